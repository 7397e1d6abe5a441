"""Uncertainty of a paired difference: bootstrap confidence intervals, Holm-adjusted p-values,
the minimum detectable effect. Pure functions over per-query outcome arrays.

A difference between two runs over the same queries, per language ``l`` with ``m_l`` queries:
``d_l = mean_i (b_i - a_i)`` (outcomes in [0, 1], reported x 100 as points). A macro average
is ``D = (1/L) sum_l d_l``, the unweighted mean of the languages' differences (as the macro
metric itself is).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

CI_LEVEL = 0.95
Z_TWO_SIDED_05 = 1.959963984540054  # Phi^-1(0.975)
Z_POWER_80 = 0.8416212335729143  # Phi^-1(0.80)


def bootstrap_weights(m: int, resamples: int, rng: np.random.Generator) -> np.ndarray:
    """[m, resamples] resampling weights: column r holds how often each of the m queries is drawn
    in resample r (m draws with replacement), divided by m; so ``d @ W`` is every resample's mean."""
    counts = rng.multinomial(m, np.full(m, 1.0 / m), size=resamples) if m else np.zeros((resamples, 0))
    return (counts.T / max(m, 1)).astype(np.float32)


def bootstrap_means(diffs: Sequence[np.ndarray], weights: Sequence[np.ndarray]) -> np.ndarray:
    """[resamples] macro means ``(1/L) sum_l mean_{resample}(d_l)``, resampling queries within each
    language (``weights[l]`` from :func:`bootstrap_weights`, shared by every cell and metric)."""
    per_group = [np.asarray(d, dtype=np.float32) @ w for d, w in zip(diffs, weights)]
    return np.mean(per_group, axis=0)


def percentile_intervals(draws: np.ndarray, level: float = CI_LEVEL) -> np.ndarray:
    """[2, rows]: the percentile bootstrap interval ``(q_{(1-level)/2}, q_{(1+level)/2})`` of each
    row of ``draws`` [rows, resamples] (one quantile call for all rows, each row's own numbers)."""
    tail = (1.0 - level) / 2.0
    return np.quantile(draws, [tail, 1.0 - tail], axis=-1)


def percentile_interval(draws: np.ndarray, level: float = CI_LEVEL) -> tuple[float, float]:
    """The percentile bootstrap interval ``(q_{(1-level)/2}, q_{(1+level)/2})`` of the draws."""
    low, high = percentile_intervals(draws, level)
    return float(low), float(high)


def paired_bootstrap_ci(diffs: Sequence[np.ndarray], weights: Sequence[np.ndarray],
                        level: float = CI_LEVEL) -> tuple[float, float]:
    """The 95% interval of the macro difference (one language: its own difference), in the
    outcomes' unit; NaN when a language has no query."""
    if any(len(d) == 0 for d in diffs):
        return float("nan"), float("nan")
    return percentile_interval(bootstrap_means(diffs, weights), level)


def holm_adjust(p_values: Sequence[float]) -> np.ndarray:
    """Holm's step-down adjustment over one family: with p sorted ascending ``p_(1) <= ... <= p_(k)``,
    ``adj_(i) = max_{j <= i} min(1, (k - j + 1) p_(j))``; NaN p-values stay NaN and do not count."""
    p = np.asarray(p_values, dtype=np.float64)
    out = np.full(p.shape, np.nan)
    finite = np.flatnonzero(~np.isnan(p))
    k = len(finite)
    if k == 0:
        return out
    order = finite[np.argsort(p[finite], kind="stable")]
    scaled = np.minimum(1.0, (k - np.arange(k)) * p[order])
    out[order] = np.maximum.accumulate(scaled)
    return out


def minimum_detectable_effect(diffs: Sequence[np.ndarray], alpha_level: float = 0.05, power: float = 0.80) -> float:
    """The smallest true macro difference a two-sided test at 0.05 detects with 80% power, from the
    paired differences' spread: ``(z_{0.975} + z_{0.80}) * SE``, ``SE = sqrt(sum_l s_l^2 / m_l) / L``
    (``s_l`` the sample standard deviation of language l's differences). Normal approximation."""
    if (alpha_level, power) != (0.05, 0.80):
        raise ValueError("only the conventional 0.05 / 80% power is tabulated")
    if any(len(d) < 2 for d in diffs) or not diffs:
        return float("nan")
    variance = sum(float(np.var(d, ddof=1)) / len(d) for d in diffs)
    return (Z_TWO_SIDED_05 + Z_POWER_80) * np.sqrt(variance) / len(diffs)
