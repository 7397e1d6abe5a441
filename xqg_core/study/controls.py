"""Controls that tell a passage-specific xQG effect from a generic one, and the
generation-language ablation.

``shuffled``: every passage is augmented with the generated queries of another passage,
``p' = (1 - alpha) p + alpha S_n(pi(p))`` with ``pi`` a fixed, seeded derangement of the
corpus (no passage keeps its own queries). Nothing is generated or encoded again: the rows
of ``S_n`` are permuted. Whatever the shuffled variant gains is what adding *some* set of
question embeddings gains; xQG minus shuffled is what the passage's *own* queries add.

``only-L`` / ``without-L`` (at n = n_max): ``S`` restricted to the queries generated in
language L, or to all the others. Sums, as the paper's formula: only-L adds 1/7 of the
query mass of xQG, so its alpha acts about seven times more weakly.
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from xqg_core.errors import XqgError


def derangement(n: int, seed: int) -> np.ndarray:
    """A seeded permutation of ``range(n)`` with no fixed point (Sattolo's algorithm: one
    n-cycle, drawn uniformly among them)."""
    if n < 2:
        raise XqgError("the shuffled control needs at least 2 passages")
    rng = np.random.default_rng(seed)
    perm = np.arange(n)
    for i in range(n - 1, 0, -1):
        j = int(rng.integers(0, i))  # j < i: never a fixed point
        perm[i], perm[j] = perm[j], perm[i]
    return perm


def shuffled_sums(S: np.ndarray, seed: int) -> np.ndarray:
    """``S`` [n_max, passages, dim] with every passage's rows taken from another passage."""
    return np.ascontiguousarray(S[:, derangement(S.shape[1], seed)])


def ablation_variants(langs: Sequence[str]) -> list[str]:
    """The generation-language ablation's variants: ``only-L`` and ``without-L`` per language."""
    return [f"{kind}-{lang}" for lang in langs for kind in ("only", "without")]


def variant_sums(variant: str, S: np.ndarray, S_by_lang: np.ndarray, langs: Sequence[str], seed: int) -> np.ndarray:
    """The query sums a variant augments with, [n, passages, dim]: ``xqg`` S itself;
    ``shuffled`` :func:`shuffled_sums`; ``only-L`` S_L and ``without-L`` S_all - S_L at
    n = n_max (one n), from the sums over all languages ``S`` [n_max, passages, dim] and per
    language ``S_by_lang`` [L, passages, dim]."""
    if variant == "xqg":
        return S
    if variant == "shuffled":
        return shuffled_sums(S, seed)
    kind, _, lang = variant.partition("-")
    if kind not in ("only", "without") or lang not in langs:
        raise XqgError(f"unknown variant {variant!r}")
    S_lang = S_by_lang[list(langs).index(lang)]
    return (S_lang if kind == "only" else S[-1] - S_lang)[None]


def best_alpha(rows: Sequence[dict], metric: str, n: int) -> float:
    """The alpha > 0 with the highest macro (``avg``) ``metric`` at ``n`` among ``rows``."""
    cands = [(r["value"], -r["alpha"]) for r in rows
             if r["lang"] == "avg" and r["metric"] == metric and r["n"] == n and r["alpha"] > 0 and np.isfinite(r["value"])]
    if not cands:
        raise XqgError(f"no alpha > 0 with a {metric} value to choose the ablation's alpha from")
    return -max(cands)[1]


def versus_p_values(rows: Sequence[dict], alphas: Sequence[float], reference: dict[str, np.ndarray],
                    variant: dict[str, np.ndarray], masks: dict[str, np.ndarray],
                    item_outcomes: Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]],
                    significance: Callable[[np.ndarray, np.ndarray], float]) -> list[float]:
    """For each summary row of ``variant`` (keys alpha, n, lang, metric): the paired test of
    the same cell's per-query outcomes against ``reference`` (e.g. xQG vs shuffled), over the
    row's queries (``masks[lang]``). ``reference``/``variant``: stored outcomes
    [alphas, n_max, queries] per key; ``item_outcomes`` maps a cell's stored outcomes to
    per-query values of each metric. alpha = 0 (the same P' in both) gives 1.0."""
    position = {float(a): i for i, a in enumerate(alphas)}
    cache: dict[tuple[int, int], tuple[dict, dict]] = {}
    out = []
    for row in rows:
        ai, n = position[float(row["alpha"])], int(row["n"])
        if row["alpha"] == 0:
            out.append(1.0)
            continue
        if (ai, n) not in cache:
            cache[(ai, n)] = tuple(item_outcomes({k: v[ai, n - 1] for k, v in d.items()}) for d in (reference, variant))
        ref, var = cache[(ai, n)]
        mask = masks[row["lang"]]
        out.append(significance(ref[row["metric"]][mask], var[row["metric"]][mask]))
    return out


def grid_with_controls(run_grid: Callable[[str, Sequence[float]], "object"], n_max: int,
                       generation_langs: Sequence[str], alphas: Sequence[float],
                       masks: dict[str, np.ndarray], item_outcomes: Callable, headline: str,
                       significance: Callable[[np.ndarray, np.ndarray], float]) -> tuple[list[dict], dict, dict]:
    """Every variant's grid for one PLM and benchmark: ``xqg`` and ``shuffled`` over the whole
    (alpha, n) grid; ``only-L`` / ``without-L`` at n = n_max and alpha in {0.01, xQG's best
    alpha by the macro ``headline`` metric} (those in ``alphas``). ``run_grid(variant, alphas)``
    runs one variant's grid (:class:`xqg_core.study.grid.GridResult`; the variants' sums are
    :func:`variant_sums`). Every control row carries ``p_vs_xqg``, the paired test against
    xQG's same cell. Returns (rows, outcomes by stored key, cell seconds by variant)."""
    results = {"xqg": run_grid("xqg", alphas), "shuffled": run_grid("shuffled", alphas)}
    rows = {v: [{**r, "variant": v} for r in res.rows] for v, res in results.items()}
    xqg_outcomes = results["xqg"].outcomes
    for row, p in zip(rows["shuffled"], versus_p_values(rows["shuffled"], alphas, xqg_outcomes,
                                                        results["shuffled"].outcomes, masks, item_outcomes, significance)):
        row["p_vs_xqg"] = p
    chosen = sorted({a for a in (0.01, best_alpha(rows["xqg"], headline, n_max)) if a in alphas})
    cut = [0.0, *chosen]
    at = [list(alphas).index(a) for a in cut]
    reference = {k: v[at][:, n_max - 1 : n_max] for k, v in xqg_outcomes.items()}  # [cut alphas, 1, queries]
    for variant in ablation_variants(generation_langs):
        results[variant] = run_grid(variant, cut)
        kept = [{**r, "variant": variant} for r in results[variant].rows if r["alpha"] > 0]  # alpha 0: xQG's baseline
        for row, p in zip(kept, versus_p_values(kept, cut, reference, results[variant].outcomes, masks,
                                                item_outcomes, significance)):
            row["p_vs_xqg"], row["n"] = p, n_max
        rows[variant] = kept
    outcomes = {(k if v == "xqg" else f"{v}/{k}"): np.ascontiguousarray(o)
                for v, res in results.items() for k, o in res.outcomes.items()}
    return [r for v in rows for r in rows[v]], outcomes, {v: res.cell_seconds for v, res in results.items()}
