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

from dataclasses import dataclass

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


def top_k_labelled(scores: np.ndarray, labels: np.ndarray | None, k: int, offset: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The k best entries of every row of ``scores`` [..., c] in the total order (score
    descending, then ``labels`` ascending: passage indices; None: column + ``offset``):
    returns (labels, scores), each [..., min(k, c)], best first.

    ``torch.topk`` finds the k + 1 best; only a row whose (k+1)-th score equals its k-th
    (a tie across the cut, where topk may pick any of the tied entries) is redone exactly."""
    import torch

    shape = scores.shape
    scores = np.ascontiguousarray(scores, dtype=np.float32).reshape(-1, shape[-1])
    labels = None if labels is None else np.asarray(labels).reshape(-1, shape[-1])
    rows, cols = scores.shape
    k = min(k, cols)
    if k == 0 or rows == 0:
        return np.zeros((*shape[:-1], k), dtype=np.int64), np.zeros((*shape[:-1], k), dtype=np.float32)
    wide = min(k + 1, cols)
    vals, idx = torch.topk(torch.from_numpy(scores), wide, dim=1, sorted=True)
    vals, idx = vals.numpy(), idx.numpy()
    tied = vals[:, k] == vals[:, k - 1] if wide > k else np.zeros(rows, dtype=bool)
    vals = np.ascontiguousarray(vals[:, :k])
    if labels is None:
        out = idx[:, :k].astype(np.int64) + offset
    else:
        out = np.take_along_axis(labels, idx[:, :k], 1).astype(np.int64)
    for r in np.flatnonzero(tied).tolist():
        row = scores[r]
        cand = np.flatnonzero(row >= vals[r, k - 1])
        label = cand + offset if labels is None else labels[r, cand]
        best = np.lexsort((label, -row[cand]))[:k]
        out[r], vals[r] = label[best], row[cand[best]]
    # equal scores inside the k (adjacent, as topk sorts by score): lower label first
    ties = np.flatnonzero((vals[:, 1:] == vals[:, :-1]).any(axis=1))
    if ties.size:
        order = np.lexsort((out[ties], -vals[ties]), axis=-1)
        out[ties], vals[ties] = np.take_along_axis(out[ties], order, -1), np.take_along_axis(vals[ties], order, -1)
    return out.reshape(*shape[:-1], k), vals.reshape(*shape[:-1], k)


def top_k_exact(scores: np.ndarray, k: int, offset: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The k best columns of every row, best first, in the total order (score descending,
    then column ascending): returns (column + ``offset`` as int64, score as float32), each
    [rows, min(k, columns)]."""
    return top_k_labelled(scores, None, k, offset)


def merge_top_k(ids: list[np.ndarray], vals: list[np.ndarray], k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k best of several top-k lists over disjoint shards (arrays [..., rows, k_i] with
    global indices), in the same total order: equal to the top-k of the whole."""
    return top_k_labelled(np.concatenate(vals, axis=-1), np.concatenate(ids, axis=-1), k)


# ----------------------------------------------------------------------------- pruned mixed scores
FALLBACK_ROWS = 512  # queries whose pools do not settle their top-k, ranked over all columns at once
POOL = 400  # candidates per query and side (<q, p>, <q, S_n(p)>) of the pruned ranking (BENCHMARKS: fallbacks)


@dataclass(frozen=True)
class MixedCandidates:
    """Per query, the passages that can make the top-k of ``(1 - alpha) QP + alpha QS`` for
    any alpha: its ``pool`` best by ``QP`` and its ``pool`` best by ``QS`` (``ids``, local
    columns in passage order, a passage twice counted once), with both scores, and the
    pools' last values (every other passage scores at most ``(1 - alpha) qp_last + alpha qs_last``)."""

    ids: np.ndarray
    qp: np.ndarray
    qs: np.ndarray
    qp_last: np.ndarray
    qs_last: np.ndarray

    @classmethod
    def build(cls, QP: np.ndarray, QS: np.ndarray, pool: int,
              top_qp: tuple[np.ndarray, np.ndarray] | None = None) -> "MixedCandidates":
        """``top_qp``: ``top_k_exact(QP, pool)`` when already computed (QP is shared by every n)."""
        top_p, top_p_vals = top_qp if top_qp is not None else top_k_exact(QP, pool)
        top_s, top_s_vals = top_k_exact(QS, pool)
        ids = np.sort(np.concatenate([top_p, top_s], axis=1), axis=1)  # passage order: ties as in the block
        repeat = np.zeros(ids.shape, dtype=bool)
        repeat[:, 1:] = ids[:, 1:] == ids[:, :-1]
        qp, qs = np.take_along_axis(QP, ids, 1), np.take_along_axis(QS, ids, 1)
        qp[repeat] = qs[repeat] = np.finfo(np.float32).min  # each passage once
        return cls(ids, qp, qs, top_p_vals[:, -1], top_s_vals[:, -1])


def mixed_top_k(QP: np.ndarray, QS: np.ndarray, alpha: float, k: int, offset: int = 0,
                candidates: MixedCandidates | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-k of ``(1 - alpha) QP + alpha QS`` (float32, the total order of
    :func:`top_k_exact`): (passage index + ``offset``, score), each [queries, k].

    With ``candidates`` (:meth:`MixedCandidates.build`, pools of at least k) only those are
    ranked: where their k-th best beats the bound on every other passage strictly, their
    top-k is the top-k (float32 rounding is monotone, so the bound holds for the computed
    scores too); a query where it does not is ranked over all columns."""
    one, weight = np.float32(1.0 - alpha), np.float32(alpha)
    if candidates is None:
        return top_k_exact(one * QP + weight * QS, k, offset)
    c = candidates
    local, vals = top_k_labelled(one * c.qp + weight * c.qs, c.ids, k)
    bound = one * c.qp_last + weight * c.qs_last
    redo = np.flatnonzero(~(vals[:, -1] > bound))
    for start in range(0, len(redo), FALLBACK_ROWS):  # ranked together: one top-k call per block of rows
        rows = redo[start : start + FALLBACK_ROWS]
        local[rows], vals[rows] = top_k_exact(one * QP[rows] + weight * QS[rows], k)
    return local + offset, vals
