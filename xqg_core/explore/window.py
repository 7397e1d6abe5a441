"""Which passages carried a question's answer into its R@kt window, at the baseline and with
xQG: the official rule (:func:`xqg_core.retrieval.evaluate.recall_at_k_tokens`) read passage by
passage, so that a view can say why the window gained or lost the answer.

R@kt reads the first k tokens of the ranked passages, joined, and counts a hit when any answer
string occurs in them, in *any* passage: the gold passage's rank alone does not explain it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from xqg_core.retrieval.evaluate import TokenCache, span_answers
from xqg_core.retrieval.ranking import mixed_scores
from xqg_core.retrieval.topk import passage_scores

# plain-text marks around an answer (a view shows them with st.text: never HTML or Markdown)
MARK_OPEN, MARK_CLOSE = "⟦", "⟧"


@dataclass(frozen=True)
class AnswerWindow:
    """One ranking's k-token window for one question.

    ``read``: a row per passage the window reads, best first: ``rank`` (1-based), ``passage``
    (index), ``tokens`` (its length), ``read`` (how many of its tokens are inside the window),
    ``answer`` (the first answer found in the part read, "" when none). ``hit``: the official
    outcome (None: the question has no span answer); it can be True with no ``answer`` row when
    an answer crosses the junction of two passages."""

    k_tokens: int
    hit: bool | None
    read: pd.DataFrame

    @property
    def carriers(self) -> pd.DataFrame:
        return self.read[self.read.answer != ""]


def window_tokenizer() -> TokenCache:
    """The official rule's tokenizer (Punkt sentences, Treebank words), memoised per passage."""
    return TokenCache()


def question_scores(Q: np.ndarray, P: np.ndarray, S: np.ndarray, question: int, alpha: float, n: int) -> np.ndarray:
    """One question's scores over every passage, ``(1 - alpha) <q, p> + alpha <q, S_n(p)>``,
    computed per corpus tile as the grid computes them (:func:`xqg_core.retrieval.ranking.mixed_scores`)."""
    q = np.asarray(Q[question : question + 1], dtype=np.float32)
    base = passage_scores(q, P)
    return mixed_scores(base, passage_scores(q, S[n - 1]) if alpha else base, alpha)[0]


def ranking(scores: np.ndarray, top: int) -> np.ndarray:
    """The ``top`` best passages, best first, equal scores by lower index (the grid's order)."""
    return np.argsort(-scores, kind="stable")[:top]


def answer_window(ranked: Sequence[int], texts: Sequence[str], answers: Sequence[str], k_tokens: int,
                  tokenize: Callable[[str], list[str]]) -> AnswerWindow:
    """Reads ``ranked`` passages' tokens until ``k_tokens`` are read, as the official rule does,
    noting in which passage (and in which part of it) an answer occurs."""
    spans = span_answers(answers)
    rows, parts, total = [], [], 0
    for rank, d in enumerate(ranked, start=1):
        if total >= k_tokens:
            break
        tokens = tokenize(texts[d])
        part = tokens[: k_tokens - total]
        joined = " ".join(part)
        found = next((a for a in spans if a in joined), "")
        rows.append({"rank": rank, "passage": int(d), "tokens": len(tokens), "read": len(part), "answer": found})
        if part:
            parts.append(joined)
        total += len(part)
    window = " ".join(parts)
    hit = any(a in window for a in spans) if spans else None
    read = pd.DataFrame(rows, columns=["rank", "passage", "tokens", "read", "answer"])
    return AnswerWindow(k_tokens, hit, read)


def rank_of(scores: np.ndarray, d: int) -> int:
    """Passage ``d``'s 1-based rank under descending ``scores``, equal scores by lower index (the
    order of :func:`ranking`), without sorting: the passages above it, counted."""
    return 1 + int((scores > scores[d]).sum() + (scores[:d] == scores[d]).sum())


def window_change(base: AnswerWindow, aug: AnswerWindow, base_scores: np.ndarray, aug_scores: np.ndarray) -> pd.DataFrame:
    """Every passage that carries an answer inside either window: its rank at the baseline and
    with xQG (among all passages, under ``*_scores``) and where each window read it (``whole``,
    ``cut`` with the tokens read, or ``outside``)."""
    def where(window: AnswerWindow, d: int) -> str:
        row = window.read[window.read.passage == d]
        if row.empty:
            return "outside"
        read, tokens = int(row.read.iloc[0]), int(row.tokens.iloc[0])
        return "whole" if read == tokens else f"cut: {read} of {tokens} tokens"

    def answer(d: int) -> str:
        found = [w.read.answer[w.read.passage == d] for w in (base, aug)]
        return next((str(f.iloc[0]) for f in found if len(f) and f.iloc[0]), "")

    carriers = list(dict.fromkeys([*base.carriers.passage.tolist(), *aug.carriers.passage.tolist()]))
    return pd.DataFrame({"passage": carriers, "answer": [answer(d) for d in carriers],
                         "baseline rank": [rank_of(base_scores, d) for d in carriers],
                         "xQG rank": [rank_of(aug_scores, d) for d in carriers],
                         "baseline window": [where(base, d) for d in carriers],
                         "xQG window": [where(aug, d) for d in carriers]},
                        columns=["passage", "answer", "baseline rank", "xQG rank", "baseline window", "xQG window"])


def why_window(base: AnswerWindow, aug: AnswerWindow, change: pd.DataFrame, name: Callable[[int], str]) -> str:
    """One plain sentence: why the xQG window holds the answer or not, against the baseline's."""
    k = f"{base.k_tokens:,}-token window"
    if base.hit is None:
        return "The question has only yes/no answers: R@kt does not evaluate it."

    def carried(window: AnswerWindow) -> str:
        rows = window.carriers
        if rows.empty:
            return "an answer that crosses the junction of two passages" if window.hit else "no answer"
        first = rows.iloc[0]
        more = f" (and {len(rows) - 1} more passage{'s' if len(rows) > 2 else ''})" if len(rows) > 1 else ""
        return f"\"{first.answer}\" in {name(int(first.passage))} at rank {int(first['rank'])}{more}"

    reads = f"(baseline: {len(base.read)} passages read, xQG: {len(aug.read)})"

    def moves(rows: pd.DataFrame, window: AnswerWindow) -> str:
        """How each carrier moved, against where ``window`` ends (it may move up and still fall
        outside when the passages above it are longer)."""
        end = len(window.read)
        return "; ".join(f"{name(int(r.passage))} went from rank {r['baseline rank']} to {r['xQG rank']}"
                         + (f", past the window's last passage (rank {end})" if r["xQG rank"] > end
                            and window is aug else "")
                         + (" and is read only in part" if r["xQG window"].startswith("cut") and window is aug else "")
                         for _, r in rows.iterrows())

    if base.hit and not aug.hit:
        moved = moves(change[change["baseline window"] != "outside"], aug)
        return (f"Lost: the baseline's {k} held {carried(base)}; with xQG {moved or 'the junction moved'}, and no "
                f"passage inside the window holds an answer {reads}.")
    if aug.hit and not base.hit:
        moved = moves(change[change["xQG window"] != "outside"], base)
        return (f"Gained: the baseline's {k} held no answer; with xQG it holds {carried(aug)}: "
                f"{moved or 'an answer across a junction'} {reads}.")
    if base.hit:
        return f"Hit both times: the baseline's {k} held {carried(base)}; xQG's holds {carried(aug)} {reads}."
    return f"Missed both times: neither {k} holds an answer {reads}."


def highlight(text: str, answer: str, context: int = 160) -> str:
    """An excerpt of ``text`` around the first occurrence of ``answer``, marked ``⟦answer⟧``
    (plain text); the start of ``text`` when the answer does not occur in it verbatim (the rule
    reads tokens, which may be spaced otherwise)."""
    at = text.find(answer) if answer else -1
    if at < 0:
        return text[: 2 * context] + ("…" if len(text) > 2 * context else "")
    start, end = max(0, at - context), min(len(text), at + len(answer) + context)
    return (("…" if start else "") + text[start:at] + MARK_OPEN + answer + MARK_CLOSE
            + text[at + len(answer) : end] + ("…" if end < len(text) else ""))
