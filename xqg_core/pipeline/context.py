"""The stages of a study over one work directory (``python -m xqg_core precompute``).

Stages (each skipped when the checksums of its inputs and settings are unchanged, each
all-or-nothing, see :mod:`xqg_core.pipeline.runner`):

``corpora``                  benchmarks built from the official files: corpus + queries
``generate-{corpus}[.i-N]``  n_max generated queries per passage and language (resumable shards)
``encode-{plm}-{corpus}[.i-N]``  P (passage side) and E (query side of the generated queries)
``index-{plm}-{corpus}``     merge of the shards: P and S_n for n = 1..n_max
``variants-{plm}-xquad-xr``  the copy-only / no-copy controls' sums S_n (generated queries split by copied words)
``queries-{plm}-{benchmark}``  the benchmark's queries (and PAWS-X pair sentences), query side
``grid-{benchmark}``         every PLM x alpha x n cell: per-query outcomes, metrics, significance
``umap``                     2-D projections of passages before / after augmentation
``export``                   ``cached_artifacts/`` (see :mod:`xqg_core.study.artifacts`)

``--shard i --num-shards N`` runs only shard i of the generate and encode stages (one job
of a cluster array); a run without ``--shard`` runs every shard, then the rest. The order of
the stages and where their shards run (in-process, or Ray tasks with ``--executor ray``)
is :mod:`xqg_core.pipeline.run`'s.

Each stage is a module, ``stage_{name}``, whose docstring says what it reads and writes;
:class:`Pipeline` holds what they share (the config, the work directory, the models loaded
once) and wires them: it computes nothing itself.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Sequence

from xqg_core.checksums import file_sha1
from xqg_core.errors import XqgError
from xqg_core.paths import resolve_data_dir
from xqg_core.pipeline import stage_corpora, stage_encode, stage_generate, stage_grid, stage_umap, stage_variants
from xqg_core.pipeline.runner import StageResult, StageRunner
from xqg_core.study.config import CORPUS_OF, PrecomputeConfig
from xqg_core.study.executors import LocalExecutor
from xqg_core.study.inputs import data_files

log = logging.getLogger("xqg_core.pipeline")


class Pipeline:
    """The stages of one config over one work directory."""

    def __init__(self, cfg: PrecomputeConfig, force: bool = False, only: Sequence[str] | None = None,
                 executor=None):
        self.cfg = cfg
        self.executor = executor or LocalExecutor()
        self.data_dir = resolve_data_dir(cfg.data_dir)
        self.runner = StageRunner(cfg.resolved_work())
        self.force = force
        self.only = set(only or ())
        self._encoders: dict[str, Any] = {}
        self._generator = None
        self.files = data_files(cfg, self.data_dir)
        self.file_sha1 = {name: file_sha1(path) for name, path in self.files.items()}

    def _forced(self, name: str) -> bool:
        return self.force and (not self.only or any(name == s or name.startswith(s + "-") for s in self.only))

    def run_stage(self, name: str, inputs: dict, fn):
        result = self.runner.run(name, inputs, fn, force=self._forced(name))
        log.info("stage %s: %s (%.1f s)", name, "unchanged, skipped" if result.skipped else "done", result.seconds)
        return result

    def stage_fp(self, name: str) -> str:
        done = self.runner.work / f"{name}.done.json"
        if not done.is_file():
            raise XqgError(f"stage {name} has not completed in {self.runner.work}; run it first")
        return json.loads(done.read_text(encoding="utf-8"))["fingerprint"]

    def out(self, name: str) -> Path:
        return self.runner.output(name)

    def encoder(self, name: str):
        from xqg_core.models.encoders import load_encoder

        if name not in self._encoders:
            self._encoders[name] = load_encoder(name, device=self.cfg.device)
        return self._encoders[name]

    def generator(self):
        from xqg_core.models.generate import load_generator

        if self._generator is None:
            self._generator = load_generator(self.cfg.generator, device=self.cfg.device,
                                             batch_size=self.cfg.generation_batch_size)
        return self._generator

    def corpus_names(self) -> list[str]:
        return [CORPUS_OF[b] for b in self.cfg.benchmarks()]

    def corpus_path(self, corpus: str) -> Path:
        return self.out("corpora") / corpus / "corpus.jsonl"

    def shard_suffix(self, shard: int) -> str:
        return "" if self.cfg.num_shards == 1 else f".{shard}-{self.cfg.num_shards}"

    # the stages, in the order :func:`xqg_core.pipeline.run.run_study` runs them
    def corpora(self) -> StageResult:
        return stage_corpora.run(self)

    def generate(self, corpus: str, shard: int) -> StageResult:
        return stage_generate.run(self, corpus, shard)

    def encode(self, plm: str, corpus: str, shard: int) -> StageResult:
        return stage_encode.run_encode(self, plm, corpus, shard)

    def index(self, plm: str, corpus: str) -> StageResult:
        return stage_encode.run_index(self, plm, corpus)

    def variant_corpora(self) -> list[str]:
        """The corpora whose grid runs the copy-only / no-copy / human variants (XQuAD's)."""
        return [CORPUS_OF["xquad-xr"]] if self.cfg.xquad_xr else []

    def variants(self, plm: str, corpus: str) -> StageResult:
        return stage_variants.run(self, plm, corpus)

    def queries(self, plm: str, benchmark: str) -> StageResult:
        return stage_encode.run_queries(self, plm, benchmark)

    def grid(self, benchmark: str) -> StageResult:
        return stage_grid.run(self, benchmark)

    def umap(self) -> StageResult:
        return stage_umap.run(self)
