"""The xquad-xr grid stage, this tree against another revision, on the shipped study's index.

Builds a work directory holding what ``grid-xquad-xr`` reads: the corpus and questions (stage
``corpora`` from the official files), and per PLM P, S and Q from the shipped index
(``cached_artifacts/index``, every level read, :meth:`xqg_core.study.artifacts.Artifacts.index`). The index holds
no per-language sums and no copy-only / no-copy sums; the benchmark stands in seeded
derangements of S's rows for them (sums of real generated queries, so the ranking prunes as on
real data: its cost is the grid's, not an artifact of made-up vectors). Then runs the stage under
each tree (a git worktree of ``--base`` for the other), and checks that both write the same
``results.parquet``, ``splits.parquet`` and outcomes, bit for bit.

    python -m benchmarks.grid_stage [--base REV] [--plms me5-small] [--write]
"""
from __future__ import annotations

import argparse
import json
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np

from benchmarks.report import machine_line, publish, run_in_tree, tree_label, worktree
from xqg_core.paths import PROJECT_ROOT, slug
from xqg_core.study.artifacts import load_artifacts
from xqg_core.study.controls import derangement

RUN_STAGE = """
import json, sys, time
from dataclasses import replace
from xqg_core.pipeline.context import Pipeline
from xqg_core.pipeline import stage_grid
from xqg_core.study.config import PrecomputeConfig
work, plms = sys.argv[1], sys.argv[2].split(",")
cfg = replace(PrecomputeConfig.from_yaml("configs/default.yaml"), work_dir=work, output_dir=work + "/out", encoders=plms)
start = time.perf_counter()
stage_grid.run(Pipeline(cfg, force=True), "xquad-xr")
print(json.dumps({"seconds": time.perf_counter() - start}))
"""


def build_work(work: Path, plms: list[str], seed: int = 42) -> None:
    from xqg_core.pipeline.context import Pipeline
    from xqg_core.study.config import PrecomputeConfig

    cfg = replace(PrecomputeConfig.from_yaml("configs/default.yaml"), work_dir=str(work),
                  output_dir=str(work / "out"), encoders=plms)
    Pipeline(cfg).corpora()
    arts = load_artifacts(None)
    langs = len(cfg.generation_langs)
    for plm in plms:
        P, S, Q = (arts.index(plm)[key] for key in ("P", "S", "Q"))
        stand_in = [S[:, derangement(S.shape[1], seed + i)] for i in range(1, 3 + langs)]
        arrays = {f"index-{slug(plm)}-xquad-xr": {"P": P, "S": S, "S_lang": np.stack([s[-1] / langs for s in stand_in[2:]])},
                  f"queries-{slug(plm)}-xquad-xr": {"Q": Q},
                  f"variants-{slug(plm)}-xquad-xr": {"S_copy": stand_in[0], "S_nocopy": stand_in[1]}}
        for stage, files in arrays.items():
            (work / stage).mkdir(parents=True, exist_ok=True)
            for name, array in files.items():
                np.save(work / stage / f"{name}.npy", np.ascontiguousarray(array, dtype=np.float32))
            (work / f"{stage}.done.json").write_text(json.dumps({"fingerprint": stage}))


def same_outputs(a: Path, b: Path) -> bool:
    import pandas as pd
    from safetensors.numpy import load_file

    for name in ("results.parquet", "splits.parquet"):
        if not pd.read_parquet(a / name).equals(pd.read_parquet(b / name)):
            return False
    for path in sorted(a.glob("outcomes-*.safetensors")):
        x, y = load_file(str(path)), load_file(str(b / path.name))
        if x.keys() != y.keys() or not all(np.array_equal(x[k], y[k], equal_nan=True) for k in x):
            return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", default="8778472", help="the revision to compare with")
    parser.add_argument("--plms", default="me5-small")
    parser.add_argument("--write", action="store_true", help="update BENCHMARKS.md")
    args = parser.parse_args()
    plms = args.plms.split(",")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        work = tmp / "work"
        build_work(work, plms)
        seconds, outputs = {}, {}
        with worktree(args.base, tmp / "base") as base_tree:
            for label, tree in (("base", base_tree), ("this", PROJECT_ROOT)):
                seconds[label] = run_in_tree(tree, RUN_STAGE, str(work), ",".join(plms))["seconds"]
                outputs[label] = tmp / f"grid-{label}"
                (work / "grid-xquad-xr").rename(outputs[label])
        same = same_outputs(outputs["base"], outputs["this"])
    head = tree_label()
    lines = ["## The grid stage (`python -m benchmarks.grid_stage --write`)", "",
             f"Machine: {machine_line()}. Stage `grid-xquad-xr` ({', '.join(plms)}; 8,330 questions x 12,734 "
             "passages; xQG, shuffled, copy-only, no-copy, human x 36 alphas x 5 n, the ablation, the dev / test "
             "halves) on the shipped index, both trees in one run; copy-only / no-copy / per-language sums "
             "stood in by seeded derangements of S (the index holds none).", "",
             "| code | seconds |", "|---|---|",
             f"| `{args.base}` (before) | {seconds['base']:,.1f} |",
             f"| `{head}` (this tree) | {seconds['this']:,.1f} |", "",
             f"Speed-up {seconds['base'] / seconds['this']:.2f}x. Outputs (results, splits, per-query outcomes) "
             f"{'identical, bit for bit' if same else 'DIFFERENT'}."]
    publish("grid-stage", lines, args.write)
    if not same:
        raise SystemExit("the two trees' grids differ")


if __name__ == "__main__":
    main()
