"""Study v3's statistics and splits against direct computations: bootstrap intervals, Holm,
the minimum detectable effect, the dev/test halves, the human upper bound's cross-fitting."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import stats

from xqg_core.retrieval.uncertainty import (
    bootstrap_weights,
    holm_adjust,
    minimum_detectable_effect,
    paired_bootstrap_ci,
)
from xqg_core.study.splits import article_halves, cross_fit_folds, human_sums, question_of, split_masks


def test_holm_equals_the_step_down_definition():
    rng = np.random.default_rng(0)
    for k in (1, 2, 5, 7):
        p = rng.uniform(0, 0.2, size=k)
        # direct: sorted ascending, running max of (k - j) p_(j), capped at 1
        order = np.argsort(p)
        direct = np.empty(k)
        running = 0.0
        for j, i in enumerate(order):
            running = max(running, min(1.0, (k - j) * p[i]))
            direct[i] = running
        np.testing.assert_allclose(holm_adjust(p), direct)
    np.testing.assert_array_equal(np.isnan(holm_adjust([0.01, np.nan, 0.04])), [False, True, False])
    np.testing.assert_allclose(holm_adjust([0.01, np.nan, 0.04]), [0.02, np.nan, 0.04])


def test_bootstrap_weights_are_resampled_means_and_the_interval_their_percentiles():
    rng = np.random.default_rng(1)
    d = [rng.normal(0.1, 1, size=40), rng.normal(-0.2, 1, size=25)]
    W = [bootstrap_weights(len(x), 300, np.random.default_rng(7 + i)) for i, x in enumerate(d)]
    for x, w in zip(d, W):
        counts = np.rint(w * len(x)).astype(int)
        assert (counts.sum(axis=0) == len(x)).all()  # each resample draws m queries
        direct = np.array([np.repeat(x, counts[:, r]).mean() for r in range(w.shape[1])])
        np.testing.assert_allclose(x.astype(np.float32) @ w, direct, rtol=1e-4, atol=1e-5)
    macro = np.mean([(x.astype(np.float32) @ w) for x, w in zip(d, W)], axis=0)
    low, high = paired_bootstrap_ci(d, W)
    np.testing.assert_allclose([low, high], np.quantile(macro, [0.025, 0.975]), rtol=1e-6)


def test_bootstrap_interval_covers_the_true_difference_about_95_percent():
    rng = np.random.default_rng(2)
    covered = 0
    for trial in range(200):
        x = rng.binomial(1, 0.3, size=120) - rng.binomial(1, 0.25, size=120)  # paired hit/miss differences
        low, high = paired_bootstrap_ci([x], [bootstrap_weights(120, 400, np.random.default_rng(trial))])
        covered += low <= 0.05 <= high
    assert 0.88 <= covered / 200 <= 0.99


def test_minimum_detectable_effect_formula():
    rng = np.random.default_rng(3)
    d = [rng.normal(size=50), rng.normal(size=80)]
    se = np.sqrt(sum(np.var(x, ddof=1) / len(x) for x in d)) / 2
    assert minimum_detectable_effect(d) == pytest.approx((stats.norm.ppf(0.975) + stats.norm.ppf(0.8)) * se)


def test_dev_test_halves_are_disjoint_by_article_and_stable():
    articles = [str(a) for a in range(48)]
    halves = article_halves(articles, 42)
    assert sum(v == "dev" for v in halves.values()) == 24
    assert article_halves(list(reversed(articles)) * 3, 42) == halves  # order and repeats do not matter
    assert article_halves(articles, 43) != halves
    gold = [[f"xquad-{a}-{p}-0"] for a in range(48) for p in range(3)]
    masks = split_masks(gold, 42)
    assert not (masks["dev"] & masks["test"]).any() and (masks["dev"] | masks["test"]).all()
    for a in range(48):  # every question of an article on one side
        rows = slice(3 * a, 3 * a + 3)
        assert masks["dev"][rows].all() or masks["test"][rows].all()


def test_cross_fitting_never_puts_a_question_or_its_translation_into_its_own_augmentation():
    rng = np.random.default_rng(4)
    langs, gen_langs = ["ar", "de", "es", "th"], ["ar", "de", "es"]
    questions = [(f"q{p}{k}", p) for p in range(4) for k in range(2 + p)]  # 2..5 questions per paragraph
    ids, gold, qlangs = [], [], []
    for (qid, p), lang in itertools.product(questions, langs):
        ids.append(f"{qid}-{lang}")
        gold.append([f"xquad-0-{p}-0"])
        qlangs.append(lang)
    gold_idx = [[int(g[0].split("-")[2])] for g in gold]
    folds = cross_fit_folds(ids, gold, 9)
    by_question = {}
    for qid, f in zip(ids, folds):
        by_question.setdefault(question_of(qid), set()).add(int(f))
    assert all(len(f) == 1 for f in by_question.values())  # translations share their fold
    Q = rng.normal(size=(len(ids), 6)).astype(np.float32)
    S = rng.normal(size=(2, 6, 6)).astype(np.float32)  # 4 XQuAD passages + 2 distractors
    H = human_sums(Q, qlangs, gold_idx, folds, S, gen_langs)
    for qi, qid in enumerate(ids):
        other = H[1 - folds[qi]]
        p = gold_idx[qi][0]
        # brute force: the questions whose mean the query's passage is augmented with
        used = [j for j in range(len(ids)) if folds[j] != folds[qi] and gold_idx[j] == [p] and qlangs[j] in gen_langs]
        assert used and all(question_of(ids[j]) != question_of(qid) for j in used)
        for n in (1, 2):
            np.testing.assert_allclose(other[n - 1, p], len(gen_langs) * n * Q[used].mean(0), rtol=1e-5)
    for Hf in H:  # distractors keep their generated sums
        np.testing.assert_array_equal(Hf[:, 4:], S[:, 4:])
