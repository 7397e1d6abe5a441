"""Exact dense ranking over augmented passages.

P' is linear in alpha, and so are the scores:

    s(q, p'; alpha, n) = (1 - alpha) * <q, p> + alpha * <q, S_n(p)>

so ``QP = Q P^T`` and ``QS_n = Q S_n^T`` are computed once per (PLM, n) and every cell is one
multiply-add plus a top-k (exact, as IndexFlatIP over P' would be).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from xqg_core.retrieval.topk import POOL, SCORE_TILE, MixedCandidates, mixed_top_k, passage_scores, top_k_exact


def score_matrices(Q: np.ndarray, P: np.ndarray, S: np.ndarray, tile: int = SCORE_TILE) -> tuple[np.ndarray, np.ndarray]:
    """``QP = Q P^T`` [q, p] and ``QS[n-1] = Q S_n^T`` [n_max, q, p], float32 (each entry the
    number a corpus shard of whole ``tile``s computes too, :func:`xqg_core.retrieval.topk.passage_scores`)."""
    QP = passage_scores(Q, P, tile=tile)
    QS = np.stack([passage_scores(Q, S_n, tile=tile) for S_n in S])
    return QP, QS


def mixed_scores(QP: np.ndarray, QS_n: np.ndarray, alpha: float) -> np.ndarray:
    """``(1 - alpha) * QP + alpha * QS_n`` = Q P'(alpha, n)^T; alpha = 0 gives QP itself."""
    if alpha == 0:
        return QP
    return np.float32(1.0 - alpha) * QP + np.float32(alpha) * QS_n


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k highest scores per row, best first, equal scores by lower index (exact;
    the order the sharded grid merges in, :func:`xqg_core.retrieval.topk.top_k_exact`)."""
    return top_k_exact(scores, k)[0]


@dataclass(frozen=True)
class PassageSide:
    """What every variant of one PLM shares: ``QP = Q P^T``, the baseline top-``top`` and, for
    the pruned ranking, each query's ``pool`` best passages by ``<q, p>``."""

    QP: np.ndarray
    top: int
    base: np.ndarray
    top_qp: tuple[np.ndarray, np.ndarray] | None
    pool: int

    @classmethod
    def build(cls, Q: np.ndarray, P: np.ndarray, top: int, tile: int = SCORE_TILE, pool: int = POOL) -> "PassageSide":
        QP = passage_scores(Q, P, tile=tile)
        pruned = QP.shape[1] > 2 * pool and pool >= top
        return cls(QP, top, top_k_exact(QP, top)[0], top_k_exact(QP, pool) if pruned else None, pool)


def dense_ranking(Q: np.ndarray, S: np.ndarray, side: PassageSide,
                  tile: int = SCORE_TILE) -> Callable[[float, int], np.ndarray]:
    """``ranked(alpha, n)`` -> [queries, side.top] passage indices of ``P' = (1 - alpha) P + alpha S_n``,
    exact (:func:`xqg_core.retrieval.topk.mixed_top_k`).

    ``Q P^T`` is kept whole in ``side`` (shared by every variant of the PLM), ``Q S_n^T`` for
    the n last asked (the grid sweeps alphas within an n), each query's candidate pools per n:
    a cell ranks ``2 * side.pool`` candidates per query, not the corpus."""
    current: dict[int, tuple] = {}

    def ranked(alpha: float, n: int) -> np.ndarray:
        if alpha == 0:  # P' = P whatever n
            return side.base
        if n not in current:
            current.clear()
            QS = passage_scores(Q, S[n - 1], tile=tile)
            current[n] = (QS, MixedCandidates.build(side.QP, QS, side.pool, side.top_qp) if side.top_qp else None)
        QS, candidates = current[n]
        return mixed_top_k(side.QP, QS, alpha, side.top, candidates=candidates)[0]

    return ranked
