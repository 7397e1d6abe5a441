from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xqg_core.retrieval.evaluate import (
    TokenCache,
    evaluate_xor_retrieve,
    hit_rate_at_k,
    mrr_at_k,
    paired_randomization_test,
    paired_t_test,
    recall_at_k,
    recall_at_k_tokens,
    recall_at_k_tokens_run,
    relevance_matrix,
    xor_word_tokenize,
)

FILLER = "word " * 1000  # 1000 tokens


def test_word_tokenize_splits_sentences_like_nltk():
    text = "Mr. Smith went to Washington D.C. on Jan. 5. He left. The U.S. Army (1990)."
    assert xor_word_tokenize(text) == [
        "Mr.", "Smith", "went", "to", "Washington", "D.C.", "on", "Jan.", "5", ".", "He", "left", ".",
        "The", "U.S.", "Army", "(", "1990", ")", "."]
    # preserve_line=True: only the final period of the whole text is split off
    assert xor_word_tokenize(text, "line")[9:12] == ["He", "left.", "The"]


def test_yes_no_questions_are_skipped():
    tok = TokenCache()
    assert recall_at_k_tokens(["yes it is"], ["yes"], 2000, tok) is None
    assert recall_at_k_tokens(["yes it is"], ["yes", "no"], 2000, tok) is None
    assert recall_at_k_tokens(["Tokyo is big"], ["yes", "Tokyo"], 2000, tok) is True


def test_match_is_case_sensitive_and_unnormalised():
    tok = TokenCache()
    assert recall_at_k_tokens(["The city of Tokyo."], ["tokyo"], 2000, tok) is False
    assert recall_at_k_tokens(["The city of Tokyo."], ["Tokyo"], 2000, tok) is True
    # tokens are re-joined with spaces: "Tokyo." becomes "Tokyo ." and no longer holds "Tokyo."
    assert recall_at_k_tokens(["The city of Tokyo."], ["Tokyo."], 2000, tok) is False
    assert recall_at_k_tokens(["It cost $5."], ["$5"], 2000, tok) is False  # "$ 5"


def test_answer_crossing_two_passages_counts():
    tok = TokenCache()
    assert recall_at_k_tokens(["He moved to New", "York in 1990"], ["New York"], 2000, tok) is True


def test_cut_at_exactly_k_thousand_tokens():
    tok = TokenCache()
    ctxs = [FILLER, FILLER, "Tokyo " + FILLER]  # "Tokyo" is token 2001
    assert recall_at_k_tokens(ctxs, ["Tokyo"], 2000, tok) is False
    assert recall_at_k_tokens(ctxs, ["Tokyo"], 5000, tok) is True
    ctxs = [FILLER, FILLER[:-5] + "Tokyo ", "more"]  # "Tokyo" is token 2000
    assert recall_at_k_tokens(ctxs, ["Tokyo"], 2000, tok) is True


def test_fewer_tokens_than_k_uses_everything_retrieved():
    tok = TokenCache()
    assert recall_at_k_tokens(["short passage about Tokyo"], ["Tokyo"], 2000, tok) is True
    assert recall_at_k_tokens(["short passage"], ["Tokyo"], 5000, tok) is False


def test_evaluate_per_language_and_macro_average():
    gold = {"1": ["Tokyo"], "2": ["Paris"], "3": ["yes"], "4": ["Nile"], "5": ["Rome", "Roma"]}
    preds = [
        {"id": "1", "lang": "ja", "ctxs": ["Tokyo is in Japan"]},
        {"id": "2", "lang": "ja", "ctxs": [FILLER, FILLER, "Paris"]},  # beyond 2k, within 5k
        {"id": "3", "lang": "ja", "ctxs": ["yes"]},  # skipped
        {"id": "4", "lang": "ar", "ctxs": ["the nile"]},  # case-sensitive miss
        {"id": "5", "lang": "ar", "ctxs": ["Roma antica"]},  # any answer
        {"id": "9", "lang": "ko", "ctxs": ["not in gold"]},  # ignored, ko left out
    ]
    result = evaluate_xor_retrieve(gold, preds)
    assert result["counts"] == {"ar": 2, "ja": 2}
    assert result["R@2kt"] == {"ar": 50.0, "ja": 50.0, "avg": 50.0}
    assert result["R@5kt"] == {"ar": 50.0, "ja": 100.0, "avg": 75.0}


def test_gold_passage_metrics():
    ranked = np.array([[5, 3, 9, 1], [2, 4, 6, 8], [7, 1, 0, 3]])
    gold = [{9}, {8, 2}, {11}]
    rel = relevance_matrix(ranked, gold)
    np.testing.assert_array_equal(hit_rate_at_k(rel, 2), [0, 1, 0])
    np.testing.assert_array_equal(hit_rate_at_k(rel, 3), [1, 1, 0])
    np.testing.assert_allclose(recall_at_k(rel, np.array([1, 2, 1]), 2), [0, 0.5, 0])
    np.testing.assert_allclose(recall_at_k(rel, np.array([1, 2, 1]), 4), [1, 1, 0])
    np.testing.assert_allclose(mrr_at_k(rel, 10), [1 / 3, 1.0, 0.0])
    np.testing.assert_allclose(mrr_at_k(rel, 2), [0.0, 1.0, 0.0])
    # against a set lookup per query, with -1 (no passage) in the ranking and a query without gold
    rng = np.random.default_rng(0)
    ranked = rng.integers(-1, 30, size=(50, 12))
    gold = [set(rng.integers(0, 30, size=rng.integers(0, 4)).tolist()) for _ in range(50)]
    expected = np.array([[d in g for d in row] for row, g in zip(ranked.tolist(), gold)])
    np.testing.assert_array_equal(relevance_matrix(ranked, gold), expected)


def test_paired_tests():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 2, size=400).astype(float)
    b = a.copy()
    assert paired_randomization_test(a, b) == 1.0 and paired_t_test(a, b) == 1.0
    flip = rng.choice(400, size=60, replace=False)
    b[flip] = 1.0  # a clear improvement
    p_rand, p_t = paired_randomization_test(a, b), paired_t_test(a, b)
    assert p_rand < 0.001 and p_t < 0.001
    noise = rng.integers(0, 2, size=400).astype(float)
    # with 400 pairs the permutation and t distributions roughly agree
    assert abs(paired_randomization_test(a, noise, n_resamples=20000) - paired_t_test(a, noise)) < 0.06
    assert paired_randomization_test(a, b, seed=1) == pytest.approx(paired_randomization_test(b, a, seed=1))


def test_run_outcomes_agree_with_the_official_evaluation():
    texts = ["Tokyo is in Japan", FILLER, "Paris is in France", "the nile", "Roma antica"]
    ranked = np.array([[0, 1, -1], [1, 1, 2], [3, 4, 0], [4, 3, 0]])
    answers = [["Tokyo"], ["Paris"], ["yes"], ["Nile", "Roma"]]
    out2 = recall_at_k_tokens_run(ranked, answers, texts, 2000)
    np.testing.assert_array_equal(out2[[0, 1, 3]], [1.0, 0.0, 1.0])
    assert np.isnan(out2[2])
    preds = [{"id": str(q), "lang": "xx", "ctxs": [texts[d] for d in ranked[q] if d >= 0]} for q in range(4)]
    official = evaluate_xor_retrieve({str(q): a for q, a in enumerate(answers)}, preds)
    assert official["R@2kt"]["xx"] == pytest.approx(100 * np.nanmean(out2))
    assert official["R@5kt"]["xx"] == pytest.approx(100 * np.nanmean(recall_at_k_tokens_run(ranked, answers, texts, 5000)))


def test_randomization_test_flips_only_the_differences_that_are_not_zero():
    """Zero differences do not change under a sign flip: the p-value equals a brute-force
    enumeration of all 2^m sign vectors of the m non-zero differences (here m = 8)."""
    import itertools

    rng = np.random.default_rng(3)
    a = rng.integers(0, 2, 400).astype(float)
    b = a.copy()
    moved = rng.choice(400, 8, replace=False)
    b[moved] = 1 - a[moved]
    b[moved[:6]] = 1.0
    a[moved[:6]] = 0.0
    d = b - a
    signs = np.array(list(itertools.product([-1, 1], repeat=8)))
    exact = np.mean(np.abs(signs @ d[moved]) / d.size >= abs(d.mean()) - 1e-12)
    assert paired_randomization_test(a, b, n_resamples=20000) == pytest.approx(exact, abs=0.01)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(seed=st.integers(0, 2**32 - 1), shapes=st.lists(st.tuples(st.integers(0, 9), st.integers(0, 41)), min_size=1,
                                                       max_size=8), between=st.lists(st.booleans(), max_size=8))
def test_fast_sign_flips_are_numpys_draws_and_leave_its_state(seed, shapes, between):
    """The randomization test's sign flips, drawn from the raw stream, are numpy's own
    ``integers(0, 2, dtype=int8) * 2 - 1``, and leave the generator where numpy's would: over
    consecutive calls whose sizes leave half a 32-bit word buffered, and with other draws between."""
    from xqg_core.retrieval.evaluate import _numpy_sign_flips, _pcg64_sign_flips, _sign_flips

    assert _sign_flips() is _pcg64_sign_flips  # this numpy draws as the fast path reads it
    fast, slow = np.random.default_rng(seed), np.random.default_rng(seed)
    for i, (rows, cols) in enumerate(shapes):
        got, want = _pcg64_sign_flips(fast, rows, cols), _numpy_sign_flips(slow, rows, cols)
        assert got.dtype == want.dtype and np.array_equal(got, want)
        assert fast.bit_generator.state == slow.bit_generator.state
        if i < len(between) and between[i]:
            assert fast.random() == slow.random()
