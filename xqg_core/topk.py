"""Exact top-k with one total order, so that top-k lists of corpus shards merge into the
top-k of the whole corpus exactly, ties included.

The order: higher score first; equal scores, the lower passage index first. Scores must be
the same numbers whichever process computes them, and a BLAS product is not the same
number for every way of cutting a matrix: a one- or two-row ``Q X^T`` goes through other
kernels than a wide one and sums in another order (measured: 3e-5 apart). So
:func:`passage_scores` always computes passage j's scores in the product over the tile of
``SCORE_TILE`` passages that holds j, the tiles being fixed by the global passage index:
a shard made of whole tiles makes exactly the products the whole corpus makes.
"""
from __future__ import annotations

import numpy as np

SCORE_TILE = 4096


def passage_scores(Q: np.ndarray, X: np.ndarray, offset: int = 0, tile: int = SCORE_TILE) -> np.ndarray:
    """``Q X^T`` [queries, rows] in float32, where X's rows are passages ``offset ..``: one
    product per tile ``[t * tile, (t + 1) * tile)`` of global passage indices, so that a shard
    whose ``offset`` is a multiple of ``tile`` gets bit for bit the columns of the whole."""
    Q = np.asarray(Q, dtype=np.float32)
    X = np.asarray(X, dtype=np.float32)
    out = np.empty((len(Q), len(X)), dtype=np.float32)
    start = 0
    while start < len(X):
        end = min((offset + start) // tile * tile + tile - offset, len(X))
        np.matmul(Q, X[start:end].T, out=out[:, start:end])
        start = end
    return out


def top_k_exact(scores: np.ndarray, k: int, offset: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The k best columns of every row, best first, in the total order (score descending,
    then column ascending): returns (column + ``offset`` as int64, score as float32), each
    [rows, min(k, columns)].

    ``torch.topk`` finds the k + 1 best; only a row whose (k+1)-th score equals its k-th
    (a tie across the cut, where topk may pick any of the tied columns) is redone exactly."""
    import torch

    scores = np.ascontiguousarray(scores, dtype=np.float32)
    rows, cols = scores.shape
    k = min(k, cols)
    if k == 0 or rows == 0:
        return np.zeros((rows, k), dtype=np.int64), np.zeros((rows, k), dtype=np.float32)
    wide = min(k + 1, cols)
    vals, idx = torch.topk(torch.from_numpy(scores), wide, dim=1, sorted=True)
    vals, idx = vals.numpy(), idx.numpy().astype(np.int64)
    tied = vals[:, k] == vals[:, k - 1] if wide > k else np.zeros(rows, dtype=bool)
    vals, idx = np.ascontiguousarray(vals[:, :k]), np.ascontiguousarray(idx[:, :k])
    for r in np.flatnonzero(tied).tolist():
        row = scores[r]
        cand = np.flatnonzero(row >= vals[r, k - 1])
        best = cand[np.lexsort((cand, -row[cand]))[:k]]
        idx[r], vals[r] = best, row[best]
    order = np.lexsort((idx, -vals), axis=-1)  # equal scores inside the k: lower column first
    return np.take_along_axis(idx, order, -1) + offset, np.take_along_axis(vals, order, -1)


def merge_top_k(ids: list[np.ndarray], vals: list[np.ndarray], k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k best of several top-k lists over disjoint shards (arrays [..., rows, k_i] with
    global indices), in the same total order: equal to the top-k of the whole."""
    I = np.concatenate(ids, axis=-1)
    V = np.concatenate(vals, axis=-1)
    order = np.lexsort((I, -V), axis=-1)[..., :k]
    return np.take_along_axis(I, order, -1), np.take_along_axis(V, order, -1)
