"""One evaluated run (a grid cell): per-query outcomes of every metric, and PAWS-X pair classification.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from xqg_core.retrieval.evaluate import mrr_at_k, recall_at_k, relevance_matrix
from xqg_core.retrieval.recall_tokens import RecallAtKTokensMemo

RETRIEVAL_METRICS = ("R@2kt", "R@5kt", "Recall@20", "Recall@100", "MRR@10")


PAWSX_METRICS = ("clean_acc1", "adv_acc1", "drop", "win_rate", "para_acc1")  # the first four: label-0 rows


# Above this many (query, passage) pairs relevance is looked up per query, not in a bool matrix.
GOLD_MATRIX_LIMIT = 500_000_000


def gold_matrix(gold: Sequence[Sequence[int]], num_passages: int) -> np.ndarray:
    """[queries, passages] bool: passage d is a gold passage of query q."""
    mask = np.zeros((len(gold), num_passages), dtype=bool)
    for q, g in enumerate(gold):
        mask[q, list(g)] = True
    return mask


def retrieval_cell(ranked: np.ndarray, gold: Sequence[Sequence[int]], num_gold: np.ndarray,
                   rkt: RecallAtKTokensMemo | None, gold_mask: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Per-query outcomes (fractions in [0, 1], NaN = not evaluated) of one ranked run.

    ``gold_mask`` (:func:`gold_matrix`) makes the relevance lookup one gather instead of a loop."""
    if gold_mask is not None:
        rel = gold_mask[np.arange(len(ranked))[:, None], ranked]
    else:
        rel = relevance_matrix(ranked, gold)
    out: dict[str, np.ndarray] = {}
    if rkt is not None:
        out["R@2kt"] = rkt.outcomes(ranked, 2000)
        out["R@5kt"] = rkt.outcomes(ranked, 5000)
    has_gold = num_gold > 0
    for k in (20, 100):
        out[f"Recall@{k}"] = np.where(has_gold, recall_at_k(rel, num_gold, k), np.nan)
    out["MRR@10"] = np.where(has_gold, mrr_at_k(rel, 10), np.nan)
    return out


def pawsx_summary(o: dict[str, np.ndarray]) -> dict[str, float]:
    """In percent: clean / adversarial Acc@1, their drop and the win rate over the label-0
    (adversarial) items; Acc@1 with either sentence counting over the label-1 items."""
    values = pawsx_item_outcomes(o)
    return {m: 100 * float(np.nanmean(v)) if np.any(~np.isnan(v)) else float("nan") for m, v in values.items()}


def pawsx_item_outcomes(o: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Per-item values whose means are the PAWS-X metrics (drop: clean - adversarial per item)."""
    return {"clean_acc1": o["clean"], "adv_acc1": o["adversarial"], "drop": o["clean"] - o["adversarial"],
            "win_rate": o["win"], "para_acc1": o["para"]}


def tune_threshold(similarity: np.ndarray, label: np.ndarray) -> float:
    """The cosine threshold maximising pair-classification accuracy (midpoint between neighbours)."""
    order = np.argsort(similarity)
    s, y = similarity[order], label[order]
    # predicting 1 for s > t: correct = (#0 at or below t) + (#1 above t)
    zeros_below = np.concatenate([[0], np.cumsum(y == 0)])
    ones_above = np.concatenate([[0], np.cumsum((y == 1)[::-1])])[::-1]
    best = int(np.argmax(zeros_below + ones_above))
    if best == 0:
        return float(s[0] - 1e-6)
    if best == len(s):
        return float(s[-1] + 1e-6)
    return float((s[best - 1] + s[best]) / 2)


def cosine_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1) + 1e-12)


# Scores this close are tied: float32 sums of one bag of token vectors in another order differ
# by ~1e-7, and an order-blind (static) encoder gives a sentence and its word swap one vector.
TIE_TOLERANCE = 1e-6


def pawsx_outcomes(scores: np.ndarray, gold: np.ndarray, twin: np.ndarray, label: np.ndarray) -> dict[str, np.ndarray]:
    """Per-item outcomes (in [0, 1], NaN where the metric does not apply) from query x pool
    similarities ``scores``; ``gold`` / ``twin`` index a pool of distinct sentences.

    Tie-aware (McSherry & Najork, ECIR 2008): scores within :data:`TIE_TOLERANCE` are tied, and
    an outcome is its expected value when ties are broken at random, ``hits / tied`` at the top,
    so that an order-blind encoder's identical vectors for a sentence and its word swap count
    half, not as a miss that any augmentation would then "fix".

    Label-0 items (the twin is an adversarial word swap), with ``t`` the sentences tied at the top:
    - ``clean``: Acc@1 with the twin removed: ``1 / |t|`` when the gold is in ``t``;
    - ``adversarial``: Acc@1 with the twin present, likewise;
    - ``win``: s(q, gold) > s(q, twin) (1), tied (1/2), below (0).
    Label-1 items (the twin is a paraphrase): ``para``: Acc@1 where gold and twin both count,
    ``|t & {gold, twin}| / |t|``.
    """
    rows = np.arange(len(gold))
    s_gold, s_twin = scores[rows, gold], scores[rows, twin]
    others = scores.copy()
    others[rows, gold] = -np.inf
    others[rows, twin] = -np.inf
    best_other = others.max(axis=1)

    def tied_others(s: np.ndarray, at_top: np.ndarray) -> np.ndarray:
        """How many other sentences score within tolerance of ``s``, counted only on the rows at the
        top whose best other sentence is that close (elsewhere none is): a few rows, not the matrix."""
        count = np.zeros(len(s))
        near = np.flatnonzero(at_top & (best_other >= s - TIE_TOLERANCE))
        count[near] = (np.abs(others[near] - s[near, None]) <= TIE_TOLERANCE).sum(axis=1)
        return count

    def top_share(s: np.ndarray, hits: np.ndarray, rivals: np.ndarray, also_tied=0) -> np.ndarray:
        """``hits / (hits + tied others + also_tied)`` where ``s`` is at the top (within tolerance of ``rivals``)."""
        at_top = s >= rivals - TIE_TOLERANCE
        return np.where(at_top, hits / (hits + tied_others(s, at_top) + also_tied), 0.0)

    twin_tied = np.abs(s_gold - s_twin) <= TIE_TOLERANCE
    one = np.ones(len(rows))
    clean = top_share(s_gold, one, best_other)
    adversarial = top_share(s_gold, one, np.maximum(best_other, s_twin), also_tied=twin_tied)
    win = np.where(twin_tied, 0.5, (s_gold > s_twin).astype(np.float64))
    para = top_share(np.maximum(s_gold, s_twin), one + twin_tied, best_other)
    adv_row, para_row = label == 0, label == 1

    def only(mask: np.ndarray, values: np.ndarray) -> np.ndarray:
        return np.where(mask, values, np.nan)

    return {"clean": only(adv_row, clean), "adversarial": only(adv_row, adversarial), "win": only(adv_row, win),
            "para": only(para_row, para)}
