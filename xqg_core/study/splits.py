"""Splits of the XQuAD questions: dev / test halves by article (alpha is chosen on dev, reported
on test) and the two cross-fitting folds of the ``human`` upper bound.

XQuAD passages are named ``xquad-{article}-{paragraph}-{chunk}`` and its questions
``{squad id}-{lang}``: the translations of one question share the SQuAD id.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from xqg_core.errors import XqgError

SPLITS = ("dev", "test")


def article_of(docid: str) -> str:
    """``xquad-12-3-0`` -> ``12``."""
    parts = docid.split("-")
    if len(parts) < 4 or parts[0] != "xquad":
        raise XqgError(f"{docid!r} is not an XQuAD passage (xquad-ARTICLE-PARAGRAPH-CHUNK)")
    return parts[1]


def paragraph_of(docid: str) -> str:
    """``xquad-12-3-0`` -> ``12-3``."""
    return "-".join(docid.split("-")[1:3])


def question_of(query_id: str) -> str:
    """``56beb4343aeaaa14008c925b-ar`` -> ``56beb4343aeaaa14008c925b`` (shared by its translations)."""
    return query_id.rsplit("-", 1)[0]


def article_halves(articles: Sequence[str], seed: int) -> dict[str, str]:
    """Each distinct article -> ``dev`` or ``test``: the sorted articles in a seeded random order,
    the first half (rounded down) dev. Stable across runs and independent of input order."""
    distinct = sorted(set(articles), key=lambda a: (len(a), a))
    order = np.random.default_rng(seed).permutation(len(distinct))
    half = len(distinct) // 2
    return {distinct[i]: ("dev" if rank < half else "test") for rank, i in enumerate(order)}


def split_masks(gold_docids: Sequence[Sequence[str]], seed: int) -> dict[str, np.ndarray]:
    """``{"dev": mask, "test": mask}`` over the queries, by the article of each query's gold passage
    (by paragraph where every question is from one article, as in a miniature)."""
    units = [article_of(g[0]) for g in gold_docids]
    if len(set(units)) < 2:
        units = [paragraph_of(g[0]) for g in gold_docids]
    half = article_halves(units, seed)
    labels = np.array([half[u] for u in units])
    return {name: labels == name for name in SPLITS}


def cross_fit_folds(query_ids: Sequence[str], gold_docids: Sequence[Sequence[str]], seed: int) -> np.ndarray:
    """Fold 0 or 1 per query: within each paragraph its distinct questions (SQuAD ids, sorted) are put
    in a seeded random order and alternate between the folds, so each fold holds half of a paragraph's
    questions and every translation of a question lands in its question's fold."""
    questions = [question_of(q) for q in query_ids]
    by_paragraph: dict[str, set[str]] = {}
    for question, gold in zip(questions, gold_docids):
        by_paragraph.setdefault(paragraph_of(gold[0]), set()).add(question)
    rng = np.random.default_rng(seed)
    fold_of: dict[str, int] = {}
    for paragraph in sorted(by_paragraph):
        ids = sorted(by_paragraph[paragraph])
        for rank, i in enumerate(rng.permutation(len(ids))):
            fold_of[ids[i]] = rank % 2
    return np.array([fold_of[q] for q in questions], dtype=np.int8)


def human_sums(Q: np.ndarray, query_langs: Sequence[str], gold_idx: Sequence[Sequence[int]], folds: np.ndarray,
               S: np.ndarray, generation_langs: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """The passage-side sums of the ``human`` upper bound, one per fold: ``H_f[n-1, p]`` is
    ``7n x`` the mean embedding of fold f's questions (in the generation languages) whose gold
    passage is p (the count a generated ``S_n`` sums, so alpha means the same), and a passage
    with no such question (every distractor) keeps its generated ``S[n-1, p]``. A query of
    fold f is ranked against the passages augmented with ``H_{1-f}``: never its own question
    or a translation of it."""
    in_langs = np.isin(np.asarray(query_langs), list(generation_langs))
    out = []
    for fold in (0, 1):
        total = np.zeros(S.shape[1:], dtype=np.float64)
        count = np.zeros(S.shape[1], dtype=np.int64)
        for qi in np.flatnonzero((folds == fold) & in_langs):
            for p in gold_idx[qi]:
                total[p] += Q[qi]
                count[p] += 1
        has = count > 0
        H = np.array(S, dtype=np.float32, copy=True)
        mean = (total[has] / count[has, None]).astype(np.float32)
        for n in range(1, S.shape[0] + 1):
            H[n - 1, has] = len(generation_langs) * n * mean
        out.append(H)
    return out[0], out[1]
