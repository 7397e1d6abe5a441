"""Stage ``generate-{corpus}[.i-N]``: n_max generated queries per passage and generation language.

Reads ``corpora/{corpus}/corpus.jsonl`` (shard i of N) and the generator; writes
``generated.jsonl`` (``docid``, ``generated_queries`` per language), in corpus order. The
generation itself resumes from its own shards in the stage's scratch directory
(:func:`xqg_core.models.generate.generate_to_shards`), or is taken from an earlier study
with the same generation (``reuse_generated``, :mod:`xqg_core.pipeline.reuse`).
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from xqg_core.checksums import file_sha1
from xqg_core.pipeline.identity import generator_identity
from xqg_core.pipeline.runner import StageResult
from xqg_core.study.inputs import read_corpus, shard_bounds, write_jsonl

if TYPE_CHECKING:
    from xqg_core.pipeline.context import Pipeline


def run(pipe: Pipeline, corpus: str, shard: int) -> StageResult:
    cfg = pipe.cfg
    corpus_file = pipe.corpus_path(corpus)
    inputs = {"corpus": file_sha1(corpus_file), "shard": [shard, cfg.num_shards],
              "generator": generator_identity(cfg.generator), "langs": cfg.generation_langs,
              "n": cfg.n_max, "seed": cfg.seed}

    def fn(out: Path, scratch: Path) -> None:
        from xqg_core.models.generate import generate_to_shards, read_generation_run

        passages = read_corpus(corpus_file)
        if cfg.reuse_generated:  # only when the earlier study shows the very same generation
            from dataclasses import asdict

            from xqg_core.pipeline.reuse import reused_generation

            records = reused_generation(cfg.reuse_generated, corpus, [p.docid for p in passages], inputs["generator"],
                                        asdict(cfg), pipe.file_sha1)
            write_jsonl(out / "generated.jsonl", records[slice(*shard_bounds(len(records), shard, cfg.num_shards))])
            return
        passages = passages[slice(*shard_bounds(len(passages), shard, cfg.num_shards))]
        generate_to_shards(pipe.generator(), passages, cfg.generation_langs, cfg.n_max, scratch / "run",
                           seed=cfg.seed, shard_size=cfg.shard_size, restart_other_runs=True)
        write_jsonl(out / "generated.jsonl",
                    ({"docid": r.docid, "generated_queries": {k: list(v) for k, v in r.queries.items()}}
                     for r in read_generation_run(scratch / "run")))

    return pipe.run_stage(f"generate-{corpus}{pipe.shard_suffix(shard)}", inputs, fn)
