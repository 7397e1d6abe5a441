"""The answer window of "Why did it move?": the official R@kt rule read passage by passage."""
from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from xqg_core.explore.live import rank_positions
from xqg_core.explore.window import MARK_CLOSE, MARK_OPEN, answer_window, highlight, ranking, why_window, window_change
from xqg_core.retrieval.evaluate import TokenCache, recall_at_k_tokens

TEXTS = ["The Nile is long .", "Paris is the capital of France .", "It was built in 1917 by them .",
         "Nothing here .", "The year 1917 saw a revolution ."]


@settings(max_examples=300, deadline=None, derandomize=True)
@given(texts=st.lists(st.lists(st.sampled_from(["a", "b", "c"]), max_size=3).map(" ".join), min_size=2, max_size=8),
       answers=st.lists(st.sampled_from(["a b", "b a", "c", "yes", "c a b"]), min_size=1, max_size=2),
       seed=st.integers(0, 10_000), k=st.integers(1, 16))
def test_answer_window_is_the_official_rule(texts, answers, seed, k):
    """Its outcome equals recall_at_k_tokens; every passage it names as a carrier holds the
    answer in the part the window reads; the parts read add up to the window."""
    ranked = np.random.default_rng(seed).permutation(len(texts))
    tokenize = TokenCache()
    window = answer_window(ranked, texts, answers, k, tokenize)
    assert window.hit == recall_at_k_tokens([texts[d] for d in ranked], answers, k, tokenize)
    assert window.read["read"].sum() == min(k, sum(len(tokenize(t)) for t in texts))
    assert list(window.read.passage) == list(ranked[: len(window.read)])
    for _, row in window.carriers.iterrows():
        assert row.answer in " ".join(tokenize(texts[row.passage])[: row.read])
    if window.hit is not None and not window.carriers.empty:
        assert window.hit  # an answer inside a part read is inside the window


def test_the_window_names_the_passage_that_carried_the_answer_not_the_gold():
    """The gold passage (2) moves up, yet the window loses "1917": passage 4 carried it and
    fell out of the 12-token window."""
    tokenize = TokenCache()
    base_scores = np.array([0.9, 0.3, 0.1, 0.0, 0.8])
    aug_scores = np.array([0.9, 0.85, 0.2, 0.0, 0.1])
    base, aug = (answer_window(ranking(s, 5), TEXTS, ["1917"], 12, tokenize) for s in (base_scores, aug_scores))
    assert base.hit and not aug.hit
    assert base.carriers.passage.tolist() == [4] and aug.carriers.empty
    change = window_change(base, aug, base_scores, aug_scores)
    assert change.to_dict("records") == [{"passage": 4, "answer": "1917", "baseline rank": 2, "xQG rank": 4,
                                          "baseline window": "whole",
                                          "xQG window": "outside"}]
    assert rank_positions(aug_scores)[2] < rank_positions(base_scores)[2]  # the gold passage improved
    why = why_window(base, aug, change, lambda d: f"p{d}")
    assert why.startswith('Lost: the baseline\'s 12-token window held "1917" in p4 at rank 2')
    assert "p4 went from rank 2 to 4" in why
    gained = why_window(aug, base, window_change(aug, base, aug_scores, base_scores),
                        lambda d: f"p{d}")
    assert gained.startswith("Gained:") and "p4 went from rank 4 to 2" in gained


def test_a_cut_passage_and_a_yes_no_question():
    tokenize = TokenCache()
    # 5 + 3 tokens: the window reads "It was built" of passage 2; "1917" lies beyond the cut
    cut = answer_window([0, 2], TEXTS, ["1917"], 8, tokenize)
    assert not cut.hit and cut.read["read"].tolist() == [5, 3] and cut.carriers.empty
    inside = answer_window([0, 2], TEXTS, ["built"], 8, tokenize)
    assert inside.hit and inside.carriers.passage.tolist() == [2]
    change = window_change(inside, inside, -np.arange(5.0), -np.arange(5.0))
    assert change["baseline window"].tolist() == ["cut: 3 of 8 tokens"]
    yes_no = answer_window([0, 1], TEXTS, ["yes"], 8, tokenize)
    assert yes_no.hit is None
    assert "yes/no" in why_window(yes_no, yes_no, window_change(yes_no, yes_no, np.ones(5), np.ones(5)), str)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(scores=st.lists(st.sampled_from([0.0, 0.5, 1.0, -1.0, 0.25]), min_size=1, max_size=12))
def test_rank_of_is_the_stable_rank(scores):
    """Ties included: the rank a stable sort by descending score gives (:func:`rank_positions`)."""
    from xqg_core.explore.window import rank_of

    values = np.array(scores)
    assert [rank_of(values, d) for d in range(len(values))] == rank_positions(values).tolist()


def test_highlight_marks_the_answer_in_plain_text():
    text = "x" * 300 + " in 1917 the " + "y" * 300
    shown = highlight(text, "1917", context=10)
    assert shown == "…" + "x" * 6 + " in " + MARK_OPEN + "1917" + MARK_CLOSE + " the " + "y" * 5 + "…"
    assert highlight("short text", "absent") == "short text"
