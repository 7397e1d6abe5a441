"""``python -m xqg_core precompute``: the order of a study's stages and where their shards run.

:mod:`xqg_core.pipeline.context` and its ``stage_*`` modules define the stages (what each computes from what);
:mod:`xqg_core.study.executors` runs independent shard jobs (in this process, or as Ray tasks);
this module puts them in order: ``corpora``, then every ``generate`` shard, every
``encode`` shard (both as executor jobs), the merges (``index``, ``queries``), the ``grid``
(whose shards the executor ranks when sharded), ``umap`` and the ``export``
(:mod:`xqg_core.study.artifacts`).
"""
from __future__ import annotations

import logging
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any, Sequence

from xqg_core.checksums import fingerprint
from xqg_core.errors import DataFormatError, XqgError
from xqg_core.pipeline.context import Pipeline
from xqg_core.pipeline.runner import work_dir_lock
from xqg_core.study.config import PrecomputeConfig
from xqg_core.study.executors import Job, LocalExecutor, make_executor

log = logging.getLogger("xqg_core.pipeline.run")

STAGES = ("corpora", "generate", "encode", "index", "variants", "queries", "grid", "umap", "export")

# Pipelines of this process by (config, force, only): a job run in the driver's process
# reuses the driver's pipeline and the models it loaded; a Ray worker builds one per
# configuration and keeps it for the next job it is given.
_PIPELINES: dict[str, Pipeline] = {}


def _pipeline_key(cfg: PrecomputeConfig, force: bool, only: Sequence[str]) -> str:
    return fingerprint({"config": asdict(cfg), "force": force, "only": sorted(only)})


def run_shard_stage(cfg: PrecomputeConfig, force: bool, only: Sequence[str], stage: str, args: tuple) -> dict[str, Any]:
    """One shard of the generate or encode stage (an executor job): skipped when complete."""
    key = _pipeline_key(cfg, force, only)
    if key not in _PIPELINES:
        _PIPELINES[key] = Pipeline(cfg, force=force, only=only)
    result = getattr(_PIPELINES[key], stage)(*args)
    return {"stage": result.name, "seconds": result.seconds, "skipped": result.skipped}


def shard_jobs(pipe: Pipeline, stage: str, shards: Sequence[int]) -> list[Job]:
    """The generate or encode stage's jobs: one per (corpus[, PLM], shard); they use a GPU when there is one."""
    common = (pipe.cfg, pipe.force, sorted(pipe.only))
    if stage == "generate":
        return [Job(f"generate-{c}-{s}", run_shard_stage, (*common, "generate", (c, s)), gpu=True)
                for c in pipe.corpus_names() for s in shards]
    return [Job(f"encode-{plm}-{c}-{s}", run_shard_stage, (*common, "encode", (plm, c, s)), gpu=True)
            for plm in pipe.cfg.encoders for c in pipe.corpus_names() for s in shards]


def run_study(cfg: PrecomputeConfig, stage: str | None = None, shard: int | None = None, force: bool = False,
              executor=None) -> Pipeline:
    """Run the study's stages (``stage``: that one only; ``shard``: that generate / encode shard
    only, a job of a cluster array) on ``executor`` (default: this process), holding the work
    directory (:func:`~xqg_core.pipeline.runner.work_dir_lock`)."""
    if shard is not None and not 0 <= shard < cfg.num_shards:
        raise XqgError(f"--shard {shard}: must be in 0..{cfg.num_shards - 1}")
    check_directories(cfg)
    with work_dir_lock(cfg.resolved_work(), shard):
        return _run_stages(cfg, stage, shard, force, executor)


def check_directories(cfg: PrecomputeConfig) -> None:
    """The output and work directories are directories (or can be made), before any stage runs."""
    for name, path in (("output_dir", cfg.resolved_output()), ("work_dir", cfg.resolved_work())):
        blocker = next((p for p in (path, *path.parents) if p.exists()), None)
        if blocker is not None and not blocker.is_dir():
            raise XqgError(f"{name}: {path} cannot be a directory, {blocker} is a file")


def _run_stages(cfg: PrecomputeConfig, stage: str | None, shard: int | None, force: bool, executor) -> Pipeline:
    from xqg_core.pipeline.stage_export import export_artifacts

    executor = executor or LocalExecutor()
    pipe = Pipeline(cfg, force=force, only=[stage] if stage else None, executor=executor)
    _PIPELINES[_pipeline_key(cfg, pipe.force, sorted(pipe.only))] = pipe
    shards = range(cfg.num_shards) if shard is None else [shard]
    want = (lambda name: True) if stage is None else (lambda name: name == stage)
    if want("corpora") or not (pipe.runner.work / "corpora.done.json").is_file():
        pipe.corpora()
    for name in ("generate", "encode"):
        if want(name):
            for report in executor.run(shard_jobs(pipe, name, shards)):
                log.info("stage %s: %s (%.1f s)", report["stage"], "unchanged, skipped" if report["skipped"]
                         else "done", report["seconds"])
    if shard is not None:
        return pipe  # one cluster job: the merge and later stages run once all shards are done
    for plm in cfg.encoders:
        for corpus in pipe.corpus_names():
            if want("index"):
                pipe.index(plm, corpus)
            if want("variants") and corpus in pipe.variant_corpora():
                pipe.variants(plm, corpus)
        for benchmark in cfg.benchmarks():
            if want("queries"):
                pipe.queries(plm, benchmark)
    for benchmark in cfg.benchmarks():
        if want("grid"):
            pipe.grid(benchmark)
    if cfg.umap and cfg.xquad_xr and want("umap"):
        pipe.umap()
    if want("export"):
        export_artifacts(pipe)
    return pipe


def main_precompute(config: str, stage: str | None, force: bool, shard: int | None, num_shards: int | None,
                    executor: str = "local", ray_address: str | None = None,
                    reuse_generated: str | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    cfg = PrecomputeConfig.from_yaml(config)
    if reuse_generated:
        cfg.reuse_generated = str(Path(reuse_generated).resolve())
    if cfg.generator.startswith("released:") and not Path(cfg.generator.split(":", 1)[1]).is_file():
        raise DataFormatError(config, None, "generator", f"no released-queries file {cfg.generator.split(':', 1)[1]!r}")
    if num_shards is not None:
        cfg.num_shards = num_shards
    if shard is not None and stage not in (None, "generate", "encode"):
        raise XqgError("--shard applies to the generate and encode stages only")
    if shard is not None and shard >= cfg.num_shards:
        raise XqgError(f"--shard {shard} is out of range: shards are 0 to {cfg.num_shards - 1} (--num-shards)")
    runner = make_executor(executor, ray_address)
    try:
        run_study(cfg, stage, shard, force, runner)
    finally:
        runner.shutdown()
