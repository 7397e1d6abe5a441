"""R@kt over many ranked runs of one query set: the official rule (:mod:`xqg_core.retrieval.evaluate`),
memoised per query on the ranked prefix that fills the token window (the rule only ever reads
that prefix, and neighbouring cells of a grid share most of them).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from xqg_core.retrieval.evaluate import TokenCache, span_answers

# R@kt lookup tables (distinct answer sets x passages) are built up to this size.
DENSE_RKT_LIMIT = 50_000_000


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
