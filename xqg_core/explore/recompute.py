"""Off-grid cells and per-question views recomputed from the shipped index and outcomes,
exactly as the grid ranks and evaluates (the scores are linear in alpha).
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import pandas as pd

from xqg_core.explore.live import LiveIndex, rank_positions
from xqg_core.explore.tables import unsupported_of
from xqg_core.retrieval.cells import RETRIEVAL_METRICS, retrieval_cell
from xqg_core.retrieval.ranking import PassageSide, dense_ranking
from xqg_core.retrieval.recall_tokens import RecallAtKTokensMemo
from xqg_core.study.artifacts import Artifacts
from xqg_core.study.grid import summarise_cell


class RetrievalRecompute:
    """Evaluates any alpha on a retrieval benchmark from the shipped index, as the grid does."""

    def __init__(self, arts: Artifacts, study, benchmark: str = "xquad-xr"):
        self.arts, self.benchmark = arts, benchmark
        passages = study.corpora["xquad-xr"]
        self.queries = study.queries[benchmark]
        position = {p.docid: i for i, p in enumerate(passages)}
        self.gold = [[position[d] for d in q["gold"]] for q in self.queries]
        self.num_gold = np.array([len(g) for g in self.gold], dtype=np.float64)
        self.langs = np.array([q["lang"] for q in self.queries])
        self.rkt = RecallAtKTokensMemo([p.text for p in passages], [q["answers"] for q in self.queries])
        self.top = int(arts.manifest["config"]["top_k"])
        self.resamples = int(arts.manifest["config"]["significance_resamples"])
        self._ranked: dict[str, Callable[[float, int], np.ndarray]] = {}

    def ranked(self, plm: str) -> Callable[[float, int], np.ndarray]:
        """The grid's exact ranking (:func:`xqg_core.retrieval.ranking.dense_ranking`) over the shipped index."""
        if plm not in self._ranked:
            t = self.arts.index(plm)
            self._ranked[plm] = dense_ranking(t["Q"], t["S"], PassageSide.build(t["Q"], t["P"], self.top))
        return self._ranked[plm]

    def baseline_outcomes(self, plm: str, n: int) -> dict[str, np.ndarray]:
        t = self.arts.outcomes(self.benchmark, plm)
        return {m: stored_outcomes(m, t[m][0, n - 1]) for m in RETRIEVAL_METRICS if m in t}

    def evaluate(self, plm: str, alpha: float, n: int) -> pd.DataFrame:
        """Rows like ``results.parquet`` for one off-grid cell (p-values vs the stored alpha = 0)."""
        cell = retrieval_cell(self.ranked(plm)(alpha, n), self.gold, self.num_gold, self.rkt)
        order = list(dict.fromkeys(self.langs))
        unsupported = unsupported_of(self.arts).get(plm, {}).get(self.benchmark, [])
        rows = summarise_cell(self.benchmark, plm, alpha, n, self.langs, order, cell, self.baseline_outcomes(plm, n),
                              self.resamples, [lang for lang in order if lang not in unsupported])
        return pd.DataFrame(rows)


def stored_outcomes(metric: str, values: np.ndarray) -> np.ndarray:
    """Stored per-query outcomes back to float (int8 -1 = not evaluated -> NaN)."""
    v = values.astype(np.float64)
    if values.dtype == np.int8:
        v[values < 0] = np.nan
    return v


def pawsx_flips(arts: Artifacts, study, plm: str, alpha: float, n: int) -> pd.DataFrame:
    """Adversarial (label-0) items whose adversarial Acc@1 outcome differs between alpha = 0
    and (alpha, n), both directions."""
    t = arts.outcomes("pawsx-adv", plm)
    ai = [round(a, 10) for a in arts.alphas].index(round(alpha, 10))
    base, cell = t["adversarial"][0, n - 1], t["adversarial"][ai, n - 1]
    flipped = np.flatnonzero(base != cell)
    parts = t["parts"].astype(np.float64)
    queries = study.queries["pawsx-adv"]
    pool = study.corpora["pawsx-test"]
    rows = []
    for i in flipped:
        q = queries[i]
        s_gold = (1 - alpha) * parts[i, 0] + alpha * parts[i, 2 + 2 * (n - 1)]
        s_twin = (1 - alpha) * parts[i, 1] + alpha * parts[i, 3 + 2 * (n - 1)]
        rows.append({"direction": "fixed by xQG" if cell[i] > base[i] else "broken by xQG", "lang": q["lang"],
                     "row": q["row"], "query": q["text"], "gold": pool[q["gold"]].text,
                     "twin": pool[q["twin"]].text, "s(q,gold) base": parts[i, 0], "s(q,twin) base": parts[i, 1],
                     "s(q,gold) xQG": s_gold, "s(q,twin) xQG": s_twin, "gold docid": pool[q["gold"]].docid,
                     "twin docid": pool[q["twin"]].docid})
    return pd.DataFrame(rows, columns=["direction", "lang", "row", "query", "gold", "twin", "s(q,gold) base",
                                       "s(q,twin) base", "s(q,gold) xQG", "s(q,twin) xQG", "gold docid", "twin docid"])


def question_changes(arts: Artifacts, plm: str, alpha: float, n: int, metric: str = "R@2kt") -> pd.DataFrame:
    """Per xquad-xr question (in index order): its outcome in ``metric`` at the baseline and at
    (alpha, n), from the stored per-query outcomes, and ``change``: gained, lost or same."""
    t = arts.outcomes("xquad-xr", plm)
    ai = [round(a, 10) for a in arts.alphas].index(round(alpha, 10))
    base, cell = (stored_outcomes(metric, t[metric][i, n - 1]) for i in (0, ai))
    queries = arts.table("queries/xquad-xr.parquet")
    change = np.where(np.isnan(base) | np.isnan(cell), "not evaluated",
                      np.where(cell > base, "gained", np.where(cell < base, "lost", "same")))
    return pd.DataFrame({"id": queries["id"], "lang": queries["lang"], "baseline": base, "xQG": cell, "change": change})


def query_contributions(queries: pd.DataFrame, n: int, q: np.ndarray, encode, alpha: float) -> pd.DataFrame:
    """A passage's first ``n`` generated queries per language (``queries``: its rows,
    :meth:`PassageQueries.of`), each with ``<q, e>`` (its query-side embedding ``e``, encoded
    now by ``encode``, against the question ``q``) and its share of the augmented score,
    ``alpha <q, e>`` (their sum is ``alpha <q, S_n(p)>``), most similar first."""
    mine = queries[queries.i < n][["lang", "i", "text"]].reset_index(drop=True)
    if mine.empty:
        return mine.assign(**{"<q, e>": [], "alpha <q, e>": []})
    E = np.asarray(encode(mine.text.tolist()), dtype=np.float32)
    sims = E @ np.asarray(q, dtype=np.float32).reshape(-1)
    return (mine.assign(**{"<q, e>": sims, "alpha <q, e>": alpha * sims})
            .sort_values("<q, e>", ascending=False, kind="stable").reset_index(drop=True))


def gold_movement(index: "LiveIndex", question: int, gold: Sequence[int], alpha: float, n: int) -> pd.DataFrame:
    """Each gold passage of an xquad-xr question: its rank and score at the baseline and under
    P'(alpha, n) among all passages, and the score's two parts ``(1 - alpha) <q, p>`` and ``alpha <q, S_n(p)>``."""
    q = index.Q[question]
    base = index.P @ q
    qs = index.S[n - 1] @ q
    aug = base if alpha == 0 else (1 - alpha) * base + alpha * qs
    base_rank, aug_rank = rank_positions(base), rank_positions(aug)
    return pd.DataFrame({"passage": list(gold), "docid": [index.docids[g] for g in gold],
                         "baseline rank": base_rank[list(gold)], "xQG rank": aug_rank[list(gold)],
                         "baseline score": base[list(gold)], "xQG score": aug[list(gold)],
                         "(1 - alpha) <q, p>": (1 - alpha) * base[list(gold)], "alpha <q, S_n>": alpha * qs[list(gold)]})
