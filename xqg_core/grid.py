"""The evaluation grid: every PLM x alpha x n cell of a benchmark, with per-query outcomes.

P' is linear in alpha, and so are the scores:

    s(q, p'; alpha, n) = (1 - alpha) * <q, p> + alpha * <q, S_n(p)>

so the grid computes ``QP = Q P^T`` and ``QS_n = Q S_n^T`` once per (PLM, n) and every
cell is one multiply-add plus a top-k (exact, as IndexFlatIP over P' would be). R@kt
outcomes are memoised per query on the ranked prefix that fills the token window: the
official rule only ever reads that prefix, and neighbouring cells share most of them.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from .evaluate import (
    TokenCache,
    mrr_at_k,
    paired_randomization_test,
    recall_at_k,
    relevance_matrix,
    span_answers,
)
from .studies import pawsx_outcomes
from .topk import POOL, SCORE_TILE, MixedCandidates, mixed_top_k, passage_scores, top_k_exact

log = logging.getLogger("xqg_core.grid")

RETRIEVAL_METRICS = ("R@2kt", "R@5kt", "Recall@20", "Recall@100", "MRR@10")
PAWSX_METRICS = ("clean_acc1", "adv_acc1", "drop", "win_rate", "para_acc1")  # the first four: label-0 rows
SIGNIFICANCE_TEST = "paired randomization test (two-sided, sign flips of per-query differences)"
SIGNIFICANCE_LEVEL = 0.05
# Above this many score entries (queries x passages x (n_max + 1)) the grid is ranked shard
# by shard (:mod:`xqg_core.sharded_grid`) instead of keeping Q P^T and Q S_n^T whole.
MAX_SCORE_ELEMENTS = 4_000_000_000
# R@kt lookup tables (distinct answer sets x passages) are built up to this size.
DENSE_RKT_LIMIT = 50_000_000
# Above this many (query, passage) pairs relevance is looked up per query, not in a bool matrix.
GOLD_MATRIX_LIMIT = 500_000_000


# ----------------------------------------------------------------------------- scoring
def score_matrices(Q: np.ndarray, P: np.ndarray, S: np.ndarray, tile: int = SCORE_TILE) -> tuple[np.ndarray, np.ndarray]:
    """``QP = Q P^T`` [q, p] and ``QS[n-1] = Q S_n^T`` [n_max, q, p], float32 (each entry the
    number a corpus shard of whole ``tile``s computes too, :func:`xqg_core.topk.passage_scores`)."""
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
    the order the sharded grid merges in, :func:`xqg_core.topk.top_k_exact`)."""
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
    exact (:func:`xqg_core.topk.mixed_top_k`).

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


# ----------------------------------------------------------------------------- R@kt, memoised
class RecallAtKTokensMemo:
    """Per-query R@kt outcomes of many runs over one corpus, exactly the official rule.

    A query's outcome at window k depends only on the ranked passages up to the one that
    fills k tokens; that prefix is the memo key. Passages are tokenised on first use and
    kept joined, so a window is built from a few joined passages rather than thousands of
    tokens; a passage wholly inside the window that holds an answer settles a hit at once
    (its joined tokens are a substring of the window's).
    """

    def __init__(self, passage_texts: Sequence[str], answers: Sequence[Sequence[str]], token_cache: TokenCache | None = None):
        self.texts = passage_texts
        self.spans = [tuple(span_answers(a)) for a in answers]
        self.skipped = np.array([not s for s in self.spans])
        self.tokenize = token_cache or TokenCache()
        self.lengths = np.full(len(passage_texts), -1, dtype=np.int64)
        self.joined: dict[int, str] = {}
        self.holds: dict[tuple[int, int], bool] = {}
        self.memo: dict[tuple[int, int, bytes], bool] = {}
        self.tables = None
        if len(passage_texts) * len(set(self.spans)) <= DENSE_RKT_LIMIT:
            self._build_tables()

    def _build_tables(self) -> None:
        """Per distinct answer set g and passage d: ``holds[g, d]`` (an answer is in d's joined
        tokens) and ``opens[g, d]`` (d's joined tokens start with the part of an answer after one
        of its spaces: d may continue an answer across the junction with the passage before it)."""
        groups = {s: g for g, s in enumerate(dict.fromkeys(self.spans))}
        self.group = np.array([groups[s] for s in self.spans], dtype=np.int64)
        joined = [self._joined(d) for d in range(len(self.texts))]
        self.lengths = np.array([len(self.tokenize(t)) for t in self.texts], dtype=np.int64)
        holds = np.zeros((len(groups), len(joined)), dtype=bool)
        opens = np.zeros_like(holds)
        self.odd = np.zeros(len(groups), dtype=bool)  # an answer with outer whitespace: always checked exactly
        for spans, g in groups.items():
            tails = {a[i + 1 :] for a in spans for i, ch in enumerate(a) if ch == " " and a[i + 1 :]}
            for d, text in enumerate(joined):
                holds[g, d] = any(a in text for a in spans)
                opens[g, d] = any(text.startswith(t) for t in tails)
            self.odd[g] = any(a != a.strip() for a in spans)
        self.tables = (holds, opens)

    def _ensure_lengths(self, ranked: np.ndarray) -> None:
        ids = np.unique(ranked[ranked >= 0])
        for d in ids[self.lengths[ids] < 0]:
            self.lengths[d] = len(self.tokenize(self.texts[d]))

    def _joined(self, d: int) -> str:
        text = self.joined.get(d)
        if text is None:
            text = self.joined[d] = " ".join(self.tokenize(self.texts[d]))
        return text

    def _holds(self, q: int, d: int) -> bool:
        hit = self.holds.get((q, d))
        if hit is None:
            joined = self._joined(d)
            hit = self.holds[(q, d)] = any(a in joined for a in self.spans[q])
        return hit

    def _hit(self, q: int, ids: np.ndarray, k_tokens: int) -> bool:
        """``recall_at_k_tokens`` for one query: the first k tokens of ``ids``' passages, joined."""
        parts, total = [], 0
        for d in ids.tolist():
            n = int(self.lengths[d])
            if n == 0:
                continue  # adds no token (and no separator)
            if total + n <= k_tokens:
                if self._holds(q, d):
                    return True
                parts.append(self._joined(d))
                total += n
            else:
                parts.append(" ".join(self.tokenize(self.texts[d])[: k_tokens - total]))
                total = k_tokens
            if total >= k_tokens:
                break
        window = " ".join(parts)
        return any(a in window for a in self.spans[q])

    def _window_prefix(self, ranked: np.ndarray, k_tokens: int) -> np.ndarray:
        """Per query, how many of its ranked passages the k-token window reads (all of them when
        they hold fewer tokens). Without the lookup tables (a corpus read lazily) passages are
        tokenised rank by rank, only as far as some evaluated query's window reaches."""
        if self.tables is not None:  # every passage's length is known
            filled = np.cumsum(self.lengths[ranked], axis=1) >= k_tokens
            return np.where(filled.any(axis=1), filled.argmax(axis=1) + 1, ranked.shape[1])
        prefix = np.full(len(ranked), ranked.shape[1])
        total = np.zeros(len(ranked), dtype=np.int64)
        reading = np.flatnonzero(~self.skipped)  # a skipped question's window is never read
        for j in range(ranked.shape[1]):
            if not reading.size:
                break
            ids = ranked[reading, j]
            self._ensure_lengths(ids)
            total[reading] += self.lengths[ids]
            full = total[reading] >= k_tokens
            prefix[reading[full]] = j + 1
            reading = reading[~full]
        return prefix

    def outcomes(self, ranked: np.ndarray, k_tokens: int) -> np.ndarray:
        """1.0 hit / 0.0 miss / NaN skipped per query (``ranked``: [q, k] passage indices)."""
        ranked = np.asarray(ranked)
        prefix = self._window_prefix(ranked, k_tokens)
        out = np.full(len(ranked), np.nan)
        compact = ranked.astype(np.int32)
        todo = ~self.skipped
        if self.tables is not None:
            # Settled without building windows: a hit when a wholly included passage holds an
            # answer; a miss when no answer can lie in the cut last passage or across a junction.
            # An answer crossing junctions (over whole short passages too) ends in a passage that
            # starts with the answer's part after its last crossed junction: that passage
            # ``opens``. The rest is checked exactly below.
            holds, opens = self.tables
            cum = np.cumsum(self.lengths[ranked], axis=1)
            pos = np.arange(ranked.shape[1])[None, :]
            inside = pos < prefix[:, None]
            g = self.group[:, None]
            early = (holds[g, ranked] & inside & (cum <= k_tokens)).any(axis=1)
            rows = np.arange(len(ranked))
            last = ranked[rows, prefix - 1]
            cut = (holds[self.group, last] & (cum[rows, prefix - 1] > k_tokens))
            junction = (opens[g, ranked] & inside & (pos >= 1)).any(axis=1)
            exact = ~early & (cut | junction | self.odd[self.group])
            out[todo] = early[todo].astype(np.float64)
            todo &= exact
        for q in np.flatnonzero(todo).tolist():
            ids = compact[q, : prefix[q]]
            key = (q, k_tokens, ids.tobytes())
            hit = self.memo.get(key)
            if hit is None:
                hit = self.memo[key] = self._hit(q, ids, k_tokens)
            out[q] = float(hit)
        return out


# ----------------------------------------------------------------------------- cells
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


def significance(base: np.ndarray, cell: np.ndarray, resamples: int) -> float:
    """Paired randomization p-value over the queries evaluated in both (NaN-free)."""
    keep = ~(np.isnan(base) | np.isnan(cell))
    return paired_randomization_test(base[keep], cell[keep], n_resamples=resamples)


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


# A first step this many times steeper than the next one (at equal width) is a kink
KINK_RATIO = 3.0


def continuity_jumps(results, tolerance: float = 1.0):
    """Macro (``lang == "avg"``) values that jump between alpha = 0 and the smallest alpha > 0
    ``a1``, per benchmark, PLM, n, metric (and variant): the first step moves the value by
    ``tolerance`` points or more *and* is more than ``KINK_RATIO`` times the next step
    ``v(a2) - v(a1)`` taken at the first step's width, ``|v(a1) - v(0)| > KINK_RATIO *
    |v(a2) - v(a1)| * a1 / (a2 - a1)`` (where a curve has no ``a2``, the first condition alone).

    Scores are continuous in alpha, so a metric keeps its slope from one small step to the
    next unless alpha = 0 holds exact ties that any augmentation breaks (e.g. copies of one
    text in the pool): a jump then flat is a pipeline artifact, never an effect, while a
    steep but steady slope (large query sums, ||S_n|| ~ 20-30 against unit passages) is one.
    Returns the offending rows (empty when none)."""
    import pandas as pd

    columns = ["benchmark", "plm", "n", "metric", "at_0", "at_alpha", "alpha", "jump", "next_step"]
    macro = results[(results["lang"] == "avg") & results["alpha"].notna()]
    positive = sorted(macro.loc[macro["alpha"] > 0, "alpha"].unique())
    if not positive or not (macro["alpha"] == 0).any():
        return pd.DataFrame(columns=columns)
    keys = ["benchmark", "plm", "n", "metric"] + (["variant"] if "variant" in macro.columns else [])

    def at(alpha: float, name: str):
        return macro[macro["alpha"] == alpha].set_index(keys)["value"].rename(name)

    first = float(positive[0])
    both = pd.concat([at(0.0, "at_0"), at(first, "at_alpha")], axis=1, join="inner")
    both["alpha"], both["jump"] = first, both["at_alpha"] - both["at_0"]
    both["next_step"] = np.nan
    if len(positive) > 1:
        second = float(positive[1])
        both = both.join(at(second, "at_second"))
        both["next_step"] = (both.pop("at_second") - both["at_alpha"]) * first / (second - first)
    steady = both["next_step"].notna() & (both["jump"].abs() <= KINK_RATIO * both["next_step"].abs())
    return both[(both["jump"].abs() >= tolerance) & ~steady].reset_index()


# ----------------------------------------------------------------------------- the grid
@dataclass
class GridResult:
    rows: list[dict]  # benchmark, plm, alpha, n, lang, metric, value, p_value, num_queries
    outcomes: dict[str, np.ndarray]  # metric -> [alphas, n_max, queries]
    cell_seconds: list[float]


def nan_mean(values: Sequence[float]) -> float:
    """Mean over the values that are not NaN (NaN when none is)."""
    values = np.asarray(values, dtype=np.float64)
    return float(np.nanmean(values)) if np.any(~np.isnan(values)) else float("nan")


def macro_groups(langs: np.ndarray, lang_order: Sequence[str], supported: Sequence[str] | None) -> dict[str, tuple]:
    """The macro rows of a cell: ``avg`` over every language and ``avg_supported`` over the
    languages the PLM was trained on (``supported``; None: all), each as (languages, query mask)."""
    kept = [lang for lang in lang_order if supported is None or lang in supported]
    return {"avg": (list(lang_order), np.ones(len(langs), bool)), "avg_supported": (kept, np.isin(langs, kept))}


def summarise_cell(benchmark: str, plm: str, alpha: float, n: int, langs: np.ndarray, lang_order: Sequence[str],
                   cell: dict[str, np.ndarray], base: dict[str, np.ndarray], resamples: int,
                   supported: Sequence[str] | None = None) -> list[dict]:
    """Per-language and macro rows of one cell (``avg``, ``avg_supported``: unweighted means of
    the languages' values), each with its p-value vs alpha = 0 (the macro's over its pooled queries)."""
    rows = []
    for metric, values in cell.items():
        per_lang = {}
        for lang in lang_order:
            mask = langs == lang
            v = values[mask]
            per_lang[lang] = 100 * nan_mean(v)
            p = 1.0 if alpha == 0 else significance(base[metric][mask], v, resamples)
            rows.append(dict(benchmark=benchmark, plm=plm, alpha=alpha, n=n, lang=lang, metric=metric,
                             value=per_lang[lang], p_value=p, num_queries=int(np.sum(~np.isnan(v)))))
        for name, (group, mask) in macro_groups(langs, lang_order, supported).items():
            p = 1.0 if alpha == 0 else significance(base[metric][mask], values[mask], resamples)
            rows.append(dict(benchmark=benchmark, plm=plm, alpha=alpha, n=n, lang=name, metric=metric,
                             value=nan_mean([per_lang[lang] for lang in group]), p_value=p,
                             num_queries=int(np.sum(~np.isnan(values[mask])))))
    return rows


def sweep(label: str, alphas: Sequence[float], n_max: int, num_queries: int, evaluate, rows_of) -> GridResult:
    """Every (alpha, n) cell: ``evaluate(alpha, n)`` -> per-query outcomes, ``rows_of(alpha, n, cell, base)``
    -> summary rows. alpha = 0 is evaluated once (P' = P whatever n) and is every cell's baseline."""
    rows, seconds = [], []
    store: dict[str, np.ndarray] = {}
    base = None
    for n in range(1, n_max + 1):
        for ai, alpha in enumerate(alphas):
            start = time.perf_counter()
            cell = base if alpha == 0 and base is not None else evaluate(alpha, n)
            seconds.append(time.perf_counter() - start)
            if alpha == 0:
                base = cell
            for key, v in cell.items():
                store.setdefault(key, np.full((len(alphas), n_max, num_queries), np.nan, dtype=np.float32))[ai, n - 1] = v
            rows += rows_of(alpha, n, cell, base)
        log.info("grid %s n=%d done (%.2f s per cell)", label, n, float(np.mean(seconds[-len(alphas):])))
    return GridResult(rows, store, seconds)


def retrieval_grid(benchmark: str, plm: str, ranked: Callable[[float, int], np.ndarray], n_max: int,
                   num_passages: int, langs: Sequence[str], gold: Sequence[Sequence[int]],
                   rkt: RecallAtKTokensMemo | None, alphas: Sequence[float], resamples: int,
                   supported: Sequence[str] | None = None) -> GridResult:
    """Every (alpha, n) cell of a retrieval benchmark for one PLM; ``ranked(alpha, n)`` gives a
    cell's [queries, top_k] passage indices (:func:`dense_ranking`, or the sharded grid's)."""
    langs_arr = np.asarray(langs)
    lang_order = list(dict.fromkeys(langs))
    num_gold = np.array([len(g) for g in gold], dtype=np.float64)
    gold_mask = gold_matrix(gold, num_passages) if len(gold) * num_passages <= GOLD_MATRIX_LIMIT else None

    def rows_of(alpha, n, cell, base):
        return summarise_cell(benchmark, plm, alpha, n, langs_arr, lang_order, cell, base, resamples, supported)

    return sweep(f"{benchmark} {plm}", alphas, n_max, len(langs_arr),
                 lambda alpha, n: retrieval_cell(ranked(alpha, n), gold, num_gold, rkt, gold_mask), rows_of)


def pawsx_grid(plm: str, Q: np.ndarray, P: np.ndarray, S: np.ndarray, langs: Sequence[str], gold: np.ndarray,
               twin: np.ndarray, label: np.ndarray, alphas: Sequence[float], resamples: int,
               supported: Sequence[str] | None = None) -> GridResult:
    """Every (alpha, n) cell of pawsx-adv for one PLM."""
    langs_arr = np.asarray(langs)
    lang_order = list(dict.fromkeys(langs))
    QP, QS = score_matrices(Q, P, S)

    def rows_of(alpha, n, cell, base):
        per_item, base_items = pawsx_item_outcomes(cell), pawsx_item_outcomes(base)
        summaries = {lang: pawsx_summary({k: v[langs_arr == lang] for k, v in cell.items()}) for lang in lang_order}
        masks = {lang: langs_arr == lang for lang in lang_order}
        for name, (group, mask) in macro_groups(langs_arr, lang_order, supported).items():
            summaries[name] = {m: nan_mean([summaries[lang][m] for lang in group]) for m in PAWSX_METRICS}
            masks[name] = mask
        rows = []
        for lang, summary in summaries.items():
            mask = masks[lang]
            for metric, value in summary.items():
                b, c = base_items[metric][mask], per_item[metric][mask]
                p = 1.0 if alpha == 0 else significance(b, c, resamples)
                rows.append(dict(benchmark="pawsx-adv", plm=plm, alpha=alpha, n=n, lang=lang, metric=metric,
                                 value=float(value), p_value=p, num_queries=int(np.sum(~np.isnan(c)))))
        return rows

    return sweep(f"pawsx-adv {plm}", alphas, len(S), len(Q),
                 lambda alpha, n: pawsx_outcomes(mixed_scores(QP, QS[n - 1], alpha), gold, twin, label), rows_of)


def pawsx_score_parts(Q: np.ndarray, P: np.ndarray, S: np.ndarray, gold: np.ndarray, twin: np.ndarray) -> np.ndarray:
    """[items, 2 + 2 n_max]: <q, p_gold>, <q, p_twin>, then <q, S_n(gold)>, <q, S_n(twin)> for n = 1..n_max.

    Any alpha's s(q, gold) and s(q, twin) follow exactly from these (the scores are linear in alpha).
    """
    Q = np.asarray(Q, np.float32)
    parts = [np.einsum("ij,ij->i", Q, P[gold]), np.einsum("ij,ij->i", Q, P[twin])]
    for S_n in S:
        parts += [np.einsum("ij,ij->i", Q, S_n[gold]), np.einsum("ij,ij->i", Q, S_n[twin])]
    return np.stack(parts, axis=1).astype(np.float32)
