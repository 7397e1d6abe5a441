from __future__ import annotations

import numpy as np
import pytest

from xqg_core.retrieval.augment import augment_passages, language_mask, sum_query_embeddings

LANGS = np.array(["ar", "de", "ja"])


@pytest.fixture
def generated():
    """4 passages x 3 languages x up to 5 queries, passage 2 has none, passage 3 only 2 per language."""
    rng = np.random.default_rng(0)
    owner, rank, lang = [], [], []
    for p in (0, 1, 3):
        for li in range(3):
            for i in range(5 if p != 3 else 2):
                owner.append(p), rank.append(i), lang.append(LANGS[li])
    order = rng.permutation(len(owner))  # storage order must not matter
    e = rng.normal(size=(len(owner), 8)).astype(np.float32)
    return e, np.array(owner)[order], np.array(rank)[order], np.array(lang)[order]


def loop_sum(e, owner, rank, lang, n, chosen, num_passages):
    out = np.zeros((num_passages, e.shape[1]), dtype=np.float64)
    for j in range(len(e)):
        if rank[j] < n and (chosen is None or lang[j] in chosen):
            out[owner[j]] += e[j]
    return out


@pytest.mark.parametrize("n", [0, 1, 3, 5])
@pytest.mark.parametrize("chosen", [None, ["ja"], ["ar", "de"]])
def test_sum_matches_plain_loop(generated, n, chosen):
    e, owner, rank, lang = generated
    got = sum_query_embeddings(e, owner, rank, 4, n, language_mask(lang, chosen))
    np.testing.assert_allclose(got, loop_sum(e, owner, rank, lang, n, chosen, 4), rtol=1e-5, atol=1e-5)
    assert not got[2].any()  # no generated queries: zero sum


def test_formula_is_a_sum_not_a_mean(generated):
    e, owner, rank, lang = generated
    p = np.random.default_rng(1).normal(size=(4, 8)).astype(np.float32)
    s = sum_query_embeddings(e, owner, rank, 4, 5)
    alpha = 0.01
    got = augment_passages(p, s, alpha)
    want = np.empty_like(p, dtype=np.float64)
    for i in range(4):  # the paper: (1 - alpha) * p + alpha * sum of all 15 query embeddings
        qs = [e[j] for j in range(len(e)) if owner[j] == i]
        want[i] = (1 - alpha) * p[i] + alpha * (np.sum(qs, axis=0) if qs else 0)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    assert got.dtype == np.float32


def test_alpha_zero_returns_p_exactly(generated):
    e, owner, rank, lang = generated
    p = np.random.default_rng(2).normal(size=(4, 8)).astype(np.float32)
    s = sum_query_embeddings(e, owner, rank, 4, 5)
    out = augment_passages(p, s, 0.0)
    assert np.array_equal(out, p) and out is not p


def test_linear_in_alpha(generated):
    e, owner, rank, lang = generated
    p = np.random.default_rng(3).normal(size=(4, 8)).astype(np.float32)
    s = sum_query_embeddings(e, owner, rank, 4, 3)
    a, b = augment_passages(p, s, 0.02), augment_passages(p, s, 0.04)
    np.testing.assert_allclose((a + b) / 2, augment_passages(p, s, 0.03), atol=1e-6)
    np.testing.assert_allclose(augment_passages(p, s, 1.0), s, atol=1e-6)


def test_shape_mismatch_is_an_error():
    with pytest.raises(ValueError, match="shape"):
        augment_passages(np.zeros((2, 3)), np.zeros((3, 3)), 0.1)
