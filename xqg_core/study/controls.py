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

from typing import TYPE_CHECKING, Callable, Sequence

import numpy as np

from xqg_core.errors import XqgError

if TYPE_CHECKING:
    from xqg_core.study.intervals import Intervals


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


def variant_sums(variant: str, S: np.ndarray, S_by_lang: np.ndarray, langs: Sequence[str], seed: int,
                 extra: dict[str, np.ndarray] | None = None) -> np.ndarray:
    """The query sums a variant augments with, [n, passages, dim]: ``xqg`` S itself;
    ``shuffled`` :func:`shuffled_sums`; ``only-L`` S_L and ``without-L`` S_all - S_L at
    n = n_max (one n), from the sums over all languages ``S`` [n_max, passages, dim] and per
    language ``S_by_lang`` [L, passages, dim]; ``copy-only`` / ``no-copy`` from ``extra``
    (the ``variants`` stage's sums)."""
    if variant == "xqg":
        return S
    if extra and variant in extra:
        return extra[variant]
    if variant == "shuffled":
        return shuffled_sums(S, seed)
    kind, _, lang = variant.partition("-")
    if kind not in ("only", "without") or lang not in langs:
        raise XqgError(f"unknown variant {variant!r}")
    S_lang = S_by_lang[list(langs).index(lang)]
    return (S_lang if kind == "only" else S[-1] - S_lang)[None]


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
                       masks: dict[str, np.ndarray], item_outcomes: Callable, full_controls: Sequence[str],
                       significance: Callable[[np.ndarray, np.ndarray], float],
                       intervals: "Intervals | None" = None) -> tuple[list[dict], dict, dict]:
    """Every variant's grid for one PLM and benchmark: ``xqg`` and the ``full_controls``
    (``shuffled``; on xquad-xr also ``copy-only``, ``no-copy``, ``human``) over the whole
    (alpha, n) grid; ``only-L`` / ``without-L`` at n = n_max and alpha in {0.01, the alpha
    selected on the dev half} (only 0.01 where the benchmark has no dev half).
    ``run_grid(variant, alphas)`` runs one variant's grid (:class:`xqg_core.study.grid.GridResult`).
    Every control row carries ``p_vs_xqg``, the paired test against xQG's same cell. With
    ``intervals`` (:class:`xqg_core.study.intervals.Intervals`): every row's bootstrap interval,
    MDE and Holm-adjusted p, and the dev / test rows (``split``). Returns (rows, outcomes by
    stored key, cell seconds by variant)."""
    from xqg_core.study.intervals import add_intervals, selected_alpha, split_rows

    results = {v: run_grid(v, alphas) for v in ("xqg", *full_controls)}
    rows = {v: [{**r, "variant": v} for r in res.rows] for v, res in results.items()}
    xqg_outcomes = results["xqg"].outcomes
    for v in full_controls:
        for row, p in zip(rows[v], versus_p_values(rows[v], alphas, xqg_outcomes, results[v].outcomes, masks,
                                                   item_outcomes, significance)):
            row["p_vs_xqg"] = p
    extra: list[dict] = []
    if intervals is not None:
        base = {k: v[0, 0] for k, v in xqg_outcomes.items()}  # alpha = 0: P' = P
        for v, res in results.items():
            add_intervals(rows[v], alphas, res.outcomes, lambda ai, n: base, intervals)
            same_xqg = (lambda ai, n: {k: o[ai, n - 1] for k, o in xqg_outcomes.items()}) if v != "xqg" else None
            if same_xqg:
                add_intervals(rows[v], alphas, res.outcomes, same_xqg, intervals, prefix="vs_xqg_")
            extra += split_rows(alphas, res.outcomes, lambda ai, n: base, intervals, significance,
                                {**{k: rows[v][0][k] for k in ("benchmark", "plm")}, "variant": v}, same_xqg)
    chosen = [0.01] + ([selected_alpha(extra, "xqg", n_max)] if extra else [])
    cut = [0.0, *sorted({a for a in chosen if a in alphas})]
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
    return ([r for v in rows for r in rows[v]] + extra, outcomes,
            {v: res.cell_seconds for v, res in results.items()})
