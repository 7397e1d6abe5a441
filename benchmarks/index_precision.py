"""What the shipped index's storage costs in metric points: every xquad-xr cell recomputed
from ``cached_artifacts/`` against the same cell of ``results.parquet``, which the grid
computed in float32; in the same run, the index's first level alone (int8 rows with per-row
scales, what schemas 3-4 ship) when the study has the residual levels (schema 5).

The app evaluates an off-grid alpha, "Why did it move?" and "Your questions" from the shipped
index, so its numbers are those of this storage; the budget is 0.1 point per cell, language
and metric.

With ``--reencoded``, also the float32 vectors ``python -m xqg_core reindex`` encoded from the
study's texts (its work directory): they must give the grid's values exactly.

    python -m benchmarks.index_precision [--artifacts DIR] [--alphas 0.01 0.05 ...] [--reencoded] [--write]
"""
from __future__ import annotations

import argparse
import time
from dataclasses import replace

import numpy as np
import pandas as pd

from benchmarks.report import machine_line, publish
from xqg_core.explore.recompute import RetrievalRecompute
from xqg_core.paths import slug
from xqg_core.pipeline.reindex import default_work
from xqg_core.study.artifacts import Artifacts, index_storage, load_artifacts, resolve_study

BUDGET = 0.1  # metric points


def cell_differences(stored: pd.DataFrame, recomputed: pd.DataFrame) -> pd.DataFrame:
    """``|recomputed - stored|`` per (lang, metric) of one cell, in points."""
    key = ["lang", "metric"]
    both = stored.set_index(key).value.rename("stored").to_frame().join(recomputed.set_index(key).value.rename("index"))
    return (both["index"] - both["stored"]).abs().rename("diff").reset_index()


class ReencodedIndex(Artifacts):
    """The study with the float32 index that ``reindex`` encoded in its work directory."""

    def index(self, plm: str) -> dict[str, np.ndarray]:
        work = default_work(self) / f"encode-{slug(plm)}"
        return {key: np.load(work / f"{key}.npy") for key in ("P", "S", "Q")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--artifacts", default=None, help="a study directory (default: cached_artifacts/)")
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--alphas", type=float, nargs="*", help="alphas to compare (default: every alpha > 0 of the grid)")
    ap.add_argument("--reencoded", action="store_true",
                    help="also the float32 vectors of `python -m xqg_core reindex` (its default work directory)")
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    arts = load_artifacts(args.artifacts)
    res = arts.results()
    study = resolve_study(arts, args.data_dir)
    alphas = args.alphas or [a for a in arts.alphas if a > 0]
    storage = index_storage(arts.manifest.get("schema_version", 0))
    # the first level alone: the same study without its residual levels
    first_only = replace(arts, manifest={**arts.manifest, "files": {
        rel: info for rel, info in arts.manifest["files"].items() if ".level" not in rel}})
    storages = [(f"shipped ({storage})", arts)]
    if first_only.manifest["files"] != arts.manifest["files"]:
        storages.append(("first level alone (int8 rows with per-row scales, S centred)", first_only))
    if args.reencoded:
        storages.append(("float32 re-encoded from the study's texts (`reindex`)", ReencodedIndex(arts.root, arts.manifest)))
    lines = ["## The shipped index against the float32 grid (`python -m benchmarks.index_precision --write`)", "",
             f"Machine: {machine_line()}. Study `{arts.root.name}` (schema {arts.manifest.get('schema_version')}); "
             f"xquad-xr, {len(alphas)} alphas x n = 1..{arts.n_max}, every language and macro, "
             "R@2kt, R@5kt, Recall@20, Recall@100, MRR@10: each cell recomputed from the index (as the app "
             "does) minus the grid's float32 value, in points; budget 0.1.", "",
             "| PLM | index | read (s) | cells | values compared | max abs diff | mean abs diff | values > 0.1 "
             "| worst (alpha, n, lang, metric) | seconds per cell |", "|---|---|---|---|---|---|---|---|---|---|"]
    for plm in arts.encoders:
        for label, source in storages:
            start = time.perf_counter()
            source.index(plm)  # what the app pays once per process to read the index
            read = time.perf_counter() - start
            recompute = RetrievalRecompute(source, study)
            diffs, start = [], time.perf_counter()
            for n in range(1, arts.n_max + 1):
                for alpha in alphas:
                    stored = res[(res.benchmark == "xquad-xr") & (res.plm == plm) & np.isclose(res.alpha, alpha)
                                 & (res.n == n)]
                    diffs.append(cell_differences(stored, recompute.evaluate(plm, alpha, n)).assign(alpha=alpha, n=n))
            seconds = (time.perf_counter() - start) / (len(alphas) * arts.n_max)
            d = pd.concat(diffs, ignore_index=True)
            worst = d.loc[d["diff"].idxmax()]
            lines.append(f"| {plm} | {label} | {read:.2f} | {len(alphas) * arts.n_max} | {len(d):,} | {d['diff'].max():.3f} "
                         f"| {d['diff'].mean():.4f} | {int((d['diff'] > BUDGET).sum())} "
                         f"| {worst.alpha:g}, {worst.n}, {worst.lang}, {worst.metric} | {seconds:.2f} |")
    publish("index-precision", lines, args.write)


if __name__ == "__main__":
    main()
