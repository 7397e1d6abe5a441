"""Significance of a paired difference between two runs over the same queries.
"""
from __future__ import annotations

import numpy as np

from xqg_core.retrieval.evaluate import paired_randomization_test

SIGNIFICANCE_TEST = "paired randomization test (two-sided, sign flips of per-query differences)"


SIGNIFICANCE_LEVEL = 0.05


def significance(base: np.ndarray, cell: np.ndarray, resamples: int) -> float:
    """Paired randomization p-value over the queries evaluated in both (NaN-free)."""
    keep = ~(np.isnan(base) | np.isnan(cell))
    return paired_randomization_test(base[keep], cell[keep], n_resamples=resamples)
