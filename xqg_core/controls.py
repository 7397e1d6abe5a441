"""Controls that tell a passage-specific xQG effect from a generic one.

``shuffled``: every passage is augmented with the generated queries of another passage,
``p' = (1 - alpha) p + alpha S_n(pi(p))`` with ``pi`` a fixed, seeded derangement of the
corpus (no passage keeps its own queries). Nothing is generated or encoded again: the rows
of ``S_n`` are permuted. Whatever the shuffled variant gains is what adding *some* set of
question embeddings gains; xQG minus shuffled is what the passage's *own* queries add.
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from .errors import XqgError

VARIANTS = ("xqg", "shuffled")


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
