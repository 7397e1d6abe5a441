"""The evaluation grid: every PLM x alpha x n cell of a benchmark, with per-query outcomes.

Each cell is ranked by :mod:`xqg_core.retrieval.ranking` (or the sharded grid's ranking) and
evaluated by :mod:`xqg_core.retrieval.cells`; this module sweeps the cells, summarises them per
language and macro average with their p-values, and checks the curves for tie artifacts.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from xqg_core.retrieval.cells import (
    GOLD_MATRIX_LIMIT,
    PAWSX_METRICS,
    gold_matrix,
    pawsx_item_outcomes,
    pawsx_outcomes,
    pawsx_summary,
    retrieval_cell,
)
from xqg_core.retrieval.ranking import mixed_scores, score_matrices
from xqg_core.retrieval.recall_tokens import RecallAtKTokensMemo
from xqg_core.retrieval.significance import significance

log = logging.getLogger("xqg_core.study.grid")


# Above this many score entries (queries x passages x (n_max + 1)) the grid is ranked shard
# by shard (:mod:`xqg_core.study.sharded_grid`) instead of keeping Q P^T and Q S_n^T whole.
MAX_SCORE_ELEMENTS = 4_000_000_000


# A first step this many times steeper than the next one (at equal width) is a kink
KINK_RATIO = 3.0


def continuity_jumps(results, tolerance: float = 1.0):
    """Macro (``lang == "avg"``) values that jump between alpha = 0 and the smallest alpha > 0
    ``a1``, per benchmark, PLM, n, metric (and variant): the first step moves the value by
    ``tolerance`` points or more *and* is more than ``KINK_RATIO`` times the next step
    ``v(a2) - v(a1)`` taken at the first step's width, ``|v(a1) - v(0)| > KINK_RATIO *
    |v(a2) - v(a1)| * a1 / (a2 - a1)`` (where a curve has no ``a2``, the first condition alone).

    Scores are continuous in alpha, so a metric keeps its slope from one small step to the
    next unless alpha = 0 holds exact ties that any augmentation breaks (e.g. copies of one
    text in the pool): a jump then flat is a pipeline artifact, never an effect, while a
    steep but steady slope (large query sums, ||S_n|| ~ 20-30 against unit passages) is one.
    Returns the offending rows (empty when none)."""
    import pandas as pd

    columns = ["benchmark", "plm", "n", "metric", "at_0", "at_alpha", "alpha", "jump", "next_step"]
    macro = results[(results["lang"] == "avg") & results["alpha"].notna()]
    positive = sorted(macro.loc[macro["alpha"] > 0, "alpha"].unique())
    if not positive or not (macro["alpha"] == 0).any():
        return pd.DataFrame(columns=columns)
    keys = ["benchmark", "plm", "n", "metric"] + (["variant"] if "variant" in macro.columns else [])

    def at(alpha: float, name: str):
        return macro[macro["alpha"] == alpha].set_index(keys)["value"].rename(name)

    first = float(positive[0])
    both = pd.concat([at(0.0, "at_0"), at(first, "at_alpha")], axis=1, join="inner")
    both["alpha"], both["jump"] = first, both["at_alpha"] - both["at_0"]
    both["next_step"] = np.nan
    if len(positive) > 1:
        second = float(positive[1])
        both = both.join(at(second, "at_second"))
        both["next_step"] = (both.pop("at_second") - both["at_alpha"]) * first / (second - first)
    steady = both["next_step"].notna() & (both["jump"].abs() <= KINK_RATIO * both["next_step"].abs())
    return both[(both["jump"].abs() >= tolerance) & ~steady].reset_index()


@dataclass
class GridResult:
    rows: list[dict]  # benchmark, plm, alpha, n, lang, metric, value, p_value, num_queries
    outcomes: dict[str, np.ndarray]  # metric -> [alphas, n_max, queries]
    cell_seconds: list[float]


def nan_mean(values: Sequence[float]) -> float:
    """Mean over the values that are not NaN (NaN when none is)."""
    values = np.asarray(values, dtype=np.float64)
    return float(np.nanmean(values)) if np.any(~np.isnan(values)) else float("nan")


def macro_groups(langs: np.ndarray, lang_order: Sequence[str], supported: Sequence[str] | None) -> dict[str, tuple]:
    """The macro rows of a cell: ``avg`` over every language and ``avg_supported`` over the
    languages the PLM was trained on (``supported``; None: all), each as (languages, query mask)."""
    kept = [lang for lang in lang_order if supported is None or lang in supported]
    return {"avg": (list(lang_order), np.ones(len(langs), bool)), "avg_supported": (kept, np.isin(langs, kept))}


def summarise_cell(benchmark: str, plm: str, alpha: float, n: int, langs: np.ndarray, lang_order: Sequence[str],
                   cell: dict[str, np.ndarray], base: dict[str, np.ndarray], resamples: int,
                   supported: Sequence[str] | None = None) -> list[dict]:
    """Per-language and macro rows of one cell (``avg``, ``avg_supported``: unweighted means of
    the languages' values), each with its p-value vs alpha = 0 (the macro's over its pooled queries)."""
    rows = []
    for metric, values in cell.items():
        per_lang = {}
        for lang in lang_order:
            mask = langs == lang
            v = values[mask]
            per_lang[lang] = 100 * nan_mean(v)
            p = 1.0 if alpha == 0 else significance(base[metric][mask], v, resamples)
            rows.append(dict(benchmark=benchmark, plm=plm, alpha=alpha, n=n, lang=lang, metric=metric,
                             value=per_lang[lang], p_value=p, num_queries=int(np.sum(~np.isnan(v)))))
        for name, (group, mask) in macro_groups(langs, lang_order, supported).items():
            p = 1.0 if alpha == 0 else significance(base[metric][mask], values[mask], resamples)
            rows.append(dict(benchmark=benchmark, plm=plm, alpha=alpha, n=n, lang=name, metric=metric,
                             value=nan_mean([per_lang[lang] for lang in group]), p_value=p,
                             num_queries=int(np.sum(~np.isnan(values[mask])))))
    return rows


def sweep(label: str, alphas: Sequence[float], n_max: int, num_queries: int, evaluate, rows_of) -> GridResult:
    """Every (alpha, n) cell: ``evaluate(alpha, n)`` -> per-query outcomes, ``rows_of(alpha, n, cell, base)``
    -> summary rows. alpha = 0 is evaluated once (P' = P whatever n) and is every cell's baseline."""
    rows, seconds = [], []
    store: dict[str, np.ndarray] = {}
    base = None
    for n in range(1, n_max + 1):
        for ai, alpha in enumerate(alphas):
            start = time.perf_counter()
            cell = base if alpha == 0 and base is not None else evaluate(alpha, n)
            seconds.append(time.perf_counter() - start)
            if alpha == 0:
                base = cell
            for key, v in cell.items():
                store.setdefault(key, np.full((len(alphas), n_max, num_queries), np.nan, dtype=np.float32))[ai, n - 1] = v
            rows += rows_of(alpha, n, cell, base)
        log.info("grid %s n=%d done (%.2f s per cell)", label, n, float(np.mean(seconds[-len(alphas):])))
    return GridResult(rows, store, seconds)


def retrieval_grid(benchmark: str, plm: str, ranked: Callable[[float, int], np.ndarray], n_max: int,
                   num_passages: int, langs: Sequence[str], gold: Sequence[Sequence[int]],
                   rkt: RecallAtKTokensMemo | None, alphas: Sequence[float], resamples: int,
                   supported: Sequence[str] | None = None) -> GridResult:
    """Every (alpha, n) cell of a retrieval benchmark for one PLM; ``ranked(alpha, n)`` gives a
    cell's [queries, top_k] passage indices (:func:`dense_ranking`, or the sharded grid's)."""
    langs_arr = np.asarray(langs)
    lang_order = list(dict.fromkeys(langs))
    num_gold = np.array([len(g) for g in gold], dtype=np.float64)
    gold_mask = gold_matrix(gold, num_passages) if len(gold) * num_passages <= GOLD_MATRIX_LIMIT else None

    def rows_of(alpha, n, cell, base):
        return summarise_cell(benchmark, plm, alpha, n, langs_arr, lang_order, cell, base, resamples, supported)

    return sweep(f"{benchmark} {plm}", alphas, n_max, len(langs_arr),
                 lambda alpha, n: retrieval_cell(ranked(alpha, n), gold, num_gold, rkt, gold_mask), rows_of)


def pawsx_grid(plm: str, Q: np.ndarray, P: np.ndarray, S: np.ndarray, langs: Sequence[str], gold: np.ndarray,
               twin: np.ndarray, label: np.ndarray, alphas: Sequence[float], resamples: int,
               supported: Sequence[str] | None = None) -> GridResult:
    """Every (alpha, n) cell of pawsx-adv for one PLM."""
    langs_arr = np.asarray(langs)
    lang_order = list(dict.fromkeys(langs))
    QP, QS = score_matrices(Q, P, S)

    def rows_of(alpha, n, cell, base):
        per_item, base_items = pawsx_item_outcomes(cell), pawsx_item_outcomes(base)
        summaries = {lang: pawsx_summary({k: v[langs_arr == lang] for k, v in cell.items()}) for lang in lang_order}
        masks = {lang: langs_arr == lang for lang in lang_order}
        for name, (group, mask) in macro_groups(langs_arr, lang_order, supported).items():
            summaries[name] = {m: nan_mean([summaries[lang][m] for lang in group]) for m in PAWSX_METRICS}
            masks[name] = mask
        rows = []
        for lang, summary in summaries.items():
            mask = masks[lang]
            for metric, value in summary.items():
                b, c = base_items[metric][mask], per_item[metric][mask]
                p = 1.0 if alpha == 0 else significance(b, c, resamples)
                rows.append(dict(benchmark="pawsx-adv", plm=plm, alpha=alpha, n=n, lang=lang, metric=metric,
                                 value=float(value), p_value=p, num_queries=int(np.sum(~np.isnan(c)))))
        return rows

    return sweep(f"pawsx-adv {plm}", alphas, len(S), len(Q),
                 lambda alpha, n: pawsx_outcomes(mixed_scores(QP, QS[n - 1], alpha), gold, twin, label), rows_of)


def pawsx_score_parts(Q: np.ndarray, P: np.ndarray, S: np.ndarray, gold: np.ndarray, twin: np.ndarray) -> np.ndarray:
    """[items, 2 + 2 n_max]: <q, p_gold>, <q, p_twin>, then <q, S_n(gold)>, <q, S_n(twin)> for n = 1..n_max.

    Any alpha's s(q, gold) and s(q, twin) follow exactly from these (the scores are linear in alpha).
    """
    Q = np.asarray(Q, np.float32)
    parts = [np.einsum("ij,ij->i", Q, P[gold]), np.einsum("ij,ij->i", Q, P[twin])]
    for S_n in S:
        parts += [np.einsum("ij,ij->i", Q, S_n[gold]), np.einsum("ij,ij->i", Q, S_n[twin])]
    return np.stack(parts, axis=1).astype(np.float32)
