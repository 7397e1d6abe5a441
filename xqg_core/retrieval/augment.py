"""The xQG augmentation (Zhuang et al., SIGIR 2023, ``fuse_embeds.py``).

    p' = (1 - alpha) * p + alpha * S_n(p),   S_n(p) = sum_{lang in L} sum_{i < n} E(q_{p,lang,i})

a SUM (not a mean) of the query-side embeddings of the passage's first ``n`` generated
queries in every chosen language. P' is linear in alpha, so any alpha is one
multiply-add away once P and S_n are kept.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import scipy.sparse as sp


def query_sum_matrix(passage_index: np.ndarray, rank_index: np.ndarray, num_passages: int, n: int,
                     keep: np.ndarray | None = None) -> sp.csr_matrix:
    """Sparse [num_passages x num_queries] 0/1 matrix M with ``M @ E = S_n``.

    Query j belongs to passage ``passage_index[j]`` and is that passage's
    ``rank_index[j]``-th query (0-based) in its language; it counts when
    ``rank_index[j] < n`` and ``keep[j]`` (e.g. its language is chosen).
    """
    passage_index = np.asarray(passage_index, dtype=np.int64)
    rank_index = np.asarray(rank_index, dtype=np.int64)
    if passage_index.shape != rank_index.shape:
        raise ValueError("passage_index and rank_index must have the same length")
    if n < 0:
        raise ValueError("n must be >= 0")
    selected = rank_index < n
    if keep is not None:
        selected &= np.asarray(keep, dtype=bool)
    cols = np.flatnonzero(selected)
    data = np.ones(cols.size, dtype=np.float32)
    return sp.csr_matrix((data, (passage_index[cols], cols)), shape=(num_passages, passage_index.size))


def sum_query_embeddings(query_embeddings: np.ndarray, passage_index: np.ndarray, rank_index: np.ndarray,
                         num_passages: int, n: int, keep: np.ndarray | None = None) -> np.ndarray:
    """S_n: per passage, the sum of its chosen generated-query embeddings (float32, [P, d]).

    A passage without generated queries gets a zero row, so p' = (1 - alpha) * p.
    """
    m = query_sum_matrix(passage_index, rank_index, num_passages, n, keep)
    return np.asarray(m @ np.asarray(query_embeddings, dtype=np.float32), dtype=np.float32)


def language_mask(query_langs: Sequence[str] | np.ndarray, chosen: Sequence[str] | None) -> np.ndarray | None:
    """Boolean mask of queries whose language is in ``chosen`` (None: all languages)."""
    if chosen is None:
        return None
    return np.isin(np.asarray(query_langs), np.asarray(list(chosen)))


def augment_passages(passages: np.ndarray, query_sums: np.ndarray, alpha: float) -> np.ndarray:
    """The paper's formula ``(1 - alpha) * P + alpha * S`` (float32). alpha = 0 returns P exactly."""
    if passages.shape != query_sums.shape:
        raise ValueError(f"P has shape {passages.shape} but S has {query_sums.shape}")
    p = np.asarray(passages, dtype=np.float32)
    if alpha == 0:
        return p.copy()
    return (np.float32(1.0 - alpha) * p + np.float32(alpha) * np.asarray(query_sums, dtype=np.float32)).astype(np.float32)
