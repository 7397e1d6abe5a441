"""The in-process grid's ranking step before and after the exact total order (ties by the lower
passage index, so shard top-k lists merge exactly), on the shipped study's index.

For each PLM: Q P'^T of one xquad-xr cell (alpha 0.01, n = n_max) from the shipped index,
then its top-100 by ``torch.topk`` alone (the grid's former step) and by
:func:`xqg_core.retrieval.topk.top_k_exact`; scores by one product and by score tiles
(:func:`xqg_core.retrieval.topk.passage_scores`). Median of ``--repeats``; how many rows differ.

    python -m benchmarks.topk_order [--repeats 7] [--write]
"""
from __future__ import annotations

import argparse

import numpy as np

from benchmarks.grid_cell import median_seconds
from benchmarks.report import machine_line, publish
from xqg_core.retrieval.ranking import mixed_scores
from xqg_core.retrieval.topk import passage_scores, top_k_exact
from xqg_core.study.artifacts import load_artifacts


def main() -> None:
    import torch

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    arts = load_artifacts()
    lines = ["## Ranking step of the in-process grid: exact total order vs torch.topk "
             "(`python -m benchmarks.topk_order --write`)", "",
             f"Machine: {machine_line()}. One xquad-xr cell (alpha 0.01, n = {arts.n_max}) of the shipped study, "
             f"top-100, median of {args.repeats}.", "",
             "| PLM | queries x passages | scores: one product | scores: tiles of 4,096 | top-k: torch.topk | "
             "top-k: exact order | rows whose top-100 differ |", "|---|---|---|---|---|---|---|"]
    for plm in arts.encoders:
        t = arts.index(plm)
        Q, P, S = t["Q"], t["P"], t["S"][-1]
        one = median_seconds(lambda: Q @ P.T, args.repeats)
        tiled = median_seconds(lambda: passage_scores(Q, P), args.repeats)
        scores = mixed_scores(passage_scores(Q, P), passage_scores(Q, S), 0.01)
        plain = median_seconds(lambda: torch.topk(torch.from_numpy(scores), 100, dim=1).indices.numpy(), args.repeats)
        exact = median_seconds(lambda: top_k_exact(scores, 100), args.repeats)
        a, b = torch.topk(torch.from_numpy(scores), 100, dim=1).indices.numpy(), top_k_exact(scores, 100)[0]
        differ = np.flatnonzero(np.any(a != b, axis=1))
        same_scores = np.array_equal(np.take_along_axis(scores, a, 1)[differ], np.take_along_axis(scores, b, 1)[differ])
        lines.append(f"| {plm} | {len(Q):,} x {len(P):,} | {one:.3f} s | {tiled:.3f} s | {plain:.3f} s | {exact:.3f} s | "
                     f"{len(differ)} ({'the same scores in the same order: only tied passages swap' if same_scores else 'scores differ'}) |")
    lines += ["", "torch.topk orders equal scores arbitrarily; the exact order puts the lower passage index first, "
              "the order the sharded grid merges in."]
    publish("topk-order", lines, args.write)


if __name__ == "__main__":
    main()
