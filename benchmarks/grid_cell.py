"""Time one grid cell (all queries of one benchmark, one PLM) and list the precompute's stage timings.

Reads a finished precompute's work directory (default config unless --config). For each
benchmark and PLM, at n = n_max over the config's alphas:

- ranking: P'(alpha) materialised + faiss IndexFlatIP top-k (the naive way), the top-k of
  the whole (1 - alpha) Q P^T + alpha Q S_n^T, and the grid's pruned exact ranking
  (:func:`xqg_core.retrieval.ranking.dense_ranking`) timed over every cell of the grid, setup included;
- a whole cell as the grid runs it (ranking + every metric), the R@kt memo cold (first
  PLM, first pass) and warm (second pass), and the significance tests of one cell.

    python -m benchmarks.grid_cell [--config configs/default.yaml] [--write]
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np

from benchmarks.report import machine_line, publish
from xqg_core.paths import slug
from xqg_core.retrieval.augment import augment_passages
from xqg_core.retrieval.cells import gold_matrix, pawsx_outcomes, retrieval_cell
from xqg_core.retrieval.ranking import PassageSide, dense_ranking, mixed_scores, score_matrices, top_k
from xqg_core.retrieval.recall_tokens import RecallAtKTokensMemo
from xqg_core.retrieval.search import search
from xqg_core.retrieval.significance import significance
from xqg_core.study.config import CORPUS_OF, PrecomputeConfig
from xqg_core.study.inputs import read_corpus, read_jsonl


def median_seconds(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="configs/default.yaml")
    parser.add_argument("--alphas", type=int, default=5, help="how many of the config's non-zero alphas to time")
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    cfg = PrecomputeConfig.from_yaml(args.config)
    work = cfg.resolved_work()
    alphas = [a for a in cfg.alphas if a > 0][: args.alphas]
    n = cfg.n_max

    lines = ["## Grid cell and precompute stages (`python -m benchmarks.grid_cell --write`)", "",
             f"Machine: {machine_line()}. Config `{args.config}`, n = {n}, alphas {alphas}; "
             "median seconds per cell.", "",
             "| benchmark | PLM | queries x passages | P' + faiss top-k | top-k of the whole score matrix | grid top-k "
             "(pruned, exact; every cell of the grid, setup included) | cell, R@kt memo cold | cell, warm | "
             "significance (one cell) |", "|---|---|---|---|---|---|---|---|---|"]
    for benchmark in cfg.benchmarks():
        corpus = CORPUS_OF[benchmark]
        queries = read_jsonl(work / "corpora" / benchmark / "queries.jsonl")
        passages = read_corpus(work / "corpora" / corpus / "corpus.jsonl")
        rkt = None
        for plm in cfg.encoders:
            P = np.load(work / f"index-{slug(plm)}-{corpus}" / "P.npy")
            S = np.load(work / f"index-{slug(plm)}-{corpus}" / "S.npy")
            Q = np.load(work / f"queries-{slug(plm)}-{benchmark}" / "Q.npy")
            naive = median_seconds(lambda: [search(augment_passages(P, S[n - 1], a), Q, cfg.top_k) for a in alphas], 1)
            QP, QS = score_matrices(Q, P, S)
            whole = median_seconds(lambda: [top_k(mixed_scores(QP, QS[n - 1], a), cfg.top_k) for a in alphas], 1)
            # as the grid ranks: every (alpha, n) cell, Q P^T, Q S_n^T and the candidate pools included
            start = time.perf_counter()
            ranked = dense_ranking(Q, S, PassageSide.build(Q, P, cfg.top_k))
            for nn in range(1, cfg.n_max + 1):
                for a in cfg.alphas:
                    ranked(a, nn)
            grid = (time.perf_counter() - start) / (len(cfg.alphas) * cfg.n_max) * len(alphas)
            if benchmark == "pawsx-adv":
                gold, twin, label = (np.array([q[k] for q in queries]) for k in ("gold", "twin", "label"))

                def cell(a):
                    return pawsx_outcomes(mixed_scores(QP, QS[n - 1], a), gold, twin, label)
                cold = warm = median_seconds(lambda: [cell(a) for a in alphas], 1)
            else:
                position = {p.docid: i for i, p in enumerate(passages)}
                gold_idx = [[position[d] for d in q["gold"]] for q in queries]
                num_gold = np.array([len(g) for g in gold_idx], dtype=np.float64)
                gold_mask = gold_matrix(gold_idx, len(passages))
                if rkt is None:
                    rkt = RecallAtKTokensMemo([p.text for p in passages], [q["answers"] for q in queries])

                def cell(a):
                    return retrieval_cell(ranked(a, n), gold_idx, num_gold, rkt, gold_mask)  # as the grid evaluates a cell
                cold = median_seconds(lambda: [cell(a) for a in alphas], 1)
                warm = median_seconds(lambda: [cell(a) for a in alphas], 1)
            base, one = cell(0.0), cell(alphas[0])
            langs = np.array([q["lang"] for q in queries])
            metrics = list(one)

            def tests():
                for m in metrics:
                    for lang in [*dict.fromkeys(langs), None]:
                        mask = np.ones(len(langs), bool) if lang is None else langs == lang
                        significance(base[m][mask], one[m][mask], cfg.significance_resamples)
            sig = median_seconds(tests, 1)
            k = len(alphas)
            lines.append(f"| {benchmark} | {plm} | {len(Q):,} x {len(P):,} | {naive / k:.3f} | {whole / k:.3f} | {grid / k:.3f} | "
                         f"{cold / k:.3f} | {warm / k:.3f} | {sig:.3f} |")
    lines += ["", "Stage timings of the last completed run of each stage (seconds):", "",
              "| stage | seconds |", "|---|---|"]
    total = 0.0
    for done in sorted(work.glob("*.done.json"), key=lambda p: p.stat().st_mtime):
        seconds = json.loads(done.read_text(encoding="utf-8"))["seconds"]
        total += seconds
        lines.append(f"| {done.name[: -len('.done.json')]} | {seconds:,.1f} |")
    lines.append(f"| **total** | **{total:,.1f}** ({total / 3600:.2f} h) |")
    publish(f"grid-cell-{cfg.name}", lines, args.write)


if __name__ == "__main__":
    main()
