"""Stage ``corpora``: the benchmarks built from the official files.

Reads the data files of the config (:func:`xqg_core.study.inputs.data_files`); writes
``corpora/{corpus}/corpus.jsonl``, ``corpora/{benchmark}/queries.jsonl`` (and
``pawsx-adv/pairs.jsonl``) and ``corpora/summaries.json``.
"""
from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

from xqg_core.io import write_text_atomic
from xqg_core.pipeline.runner import StageResult
from xqg_core.study.config import PrecomputeConfig
from xqg_core.study.inputs import build_study_inputs, write_jsonl

if TYPE_CHECKING:
    from xqg_core.pipeline.context import Pipeline


def build_corpora(cfg: PrecomputeConfig, data_dir: Path, out: Path) -> None:
    """corpora/{corpus}/corpus.jsonl, corpora/{benchmark}/queries.jsonl (and pawsx-adv/pairs.jsonl),
    corpora/summaries.json (what the builders left out, for the manifest)."""
    built = build_study_inputs(cfg, data_dir)
    for corpus, passages in built.corpora.items():
        write_jsonl(out / corpus / "corpus.jsonl", (asdict(p) for p in passages))
    for benchmark, queries in built.queries.items():
        write_jsonl(out / benchmark / "queries.jsonl", queries)
    if built.pairs:
        write_jsonl(out / "pawsx-adv" / "pairs.jsonl", built.pairs)
    write_text_atomic(out / "summaries.json", json.dumps(built.summaries, indent=1))


def run(pipe: Pipeline) -> StageResult:
    benchmarks = {b: asdict(getattr(pipe.cfg, b.replace("-", "_"))) for b in pipe.cfg.benchmarks()}
    return pipe.run_stage("corpora", {"benchmarks": benchmarks, "data": pipe.file_sha1},
                          lambda out, _: build_corpora(pipe.cfg, pipe.data_dir, out))
