from __future__ import annotations

import numpy as np

from xqg_core.data.benchmarks import build_pawsx_adv, build_xquad_xr
from xqg_core.retrieval.cells import pawsx_outcomes


def test_xquad_xr(data_dir):
    bench = build_xquad_xr(data_dir, distractors=50)
    xquad = [p for p in bench.passages if p.docid.startswith("xquad-")]
    assert len({p.docid.rsplit("-", 1)[0] for p in xquad}) == 240
    assert len(bench.passages) == len(xquad) + 50
    assert all(len(p.text.split()) <= 100 for p in bench.passages)
    assert len(bench.queries) == 7 * 1190
    by_id = {p.docid: p for p in bench.passages}
    q = bench.queries[0]
    assert q.lang == "ar" and q.id.endswith("-ar") and not q.text.isascii()
    assert all(any(a in by_id[g].text for a in q.answers) for g in q.gold)
    # the same question in every language shares its English answers and gold passages
    de = next(x for x in bench.queries if x.id == q.id.replace("-ar", "-de"))
    assert (de.answers, de.gold) == (q.answers, q.gold)


def test_pawsx_adv_pool_holds_distinct_sentences(data_dir):
    bench = build_pawsx_adv(data_dir, "test")
    assert len(set(bench.pool)) == len(bench.pool) == len(bench.pool_ids)
    assert 3000 < len(bench.pool) < 3988  # PAWS reuses source sentences across rows
    labels = {it.row: it.label for it in bench.items}
    assert 104 not in labels  # unknown derived label: left out
    assert {it.lang for it in bench.items} == {"de", "es", "fr", "ja", "ko", "zh"}
    assert all(bench.pool[it.twin] != bench.pool[it.gold] for it in bench.items)
    # every pool sentence is named by the row and side where it first occurs
    from xqg_core.data.loaders import load_pawsx

    english = {p.row: p for p in load_pawsx(data_dir, "test", "en")}
    for sentence, pid in zip(bench.pool[:50], bench.pool_ids[:50]):
        _, row, side = pid.split("-")
        pair = english[int(row)]
        assert (pair.sentence1 if side == "s1" else pair.sentence2) == sentence


def test_xquad_xr_has_no_duplicate_passages(data_dir):
    bench = build_xquad_xr(data_dir, distractors=None)
    contents = [p.contents for p in bench.passages]
    assert len(set(contents)) == len(contents)


def test_distinct_passages_maps_copies_to_the_first():
    from xqg_core.data.benchmarks import distinct_passages
    from xqg_core.data.records import Passage

    kept, alias = distinct_passages([Passage("a", "T", "x"), Passage("b", "T", "y"), Passage("c", "T", "x")])
    assert [p.docid for p in kept] == ["a", "b"] and alias == {"c": "a"}


def test_pawsx_outcomes_hand_checked():
    # pool: 0 gold-a, 1 twin-a, 2 gold-b, 3 twin-b, 4 other
    scores = np.array([
        [0.9, 0.8, 0.1, 0.1, 0.2],  # label 0: gold beats twin and the rest -> clean, adversarial, win
        [0.7, 0.9, 0.1, 0.1, 0.2],  # label 0: twin wins -> clean yes, adversarial no, win no
        [0.1, 0.1, 0.5, 0.9, 0.6],  # label 1: twin (a paraphrase) is top -> para yes; no label-0 metric
        [0.1, 0.1, 0.5, 0.4, 0.6],  # label 0: another sentence wins -> all no except win
        [0.1, 0.1, 0.5, 0.4, 0.6],  # label 1: another sentence beats both -> para no
    ])
    gold, twin, label = np.array([0, 0, 2, 2, 2]), np.array([1, 1, 3, 3, 3]), np.array([0, 0, 1, 0, 1])
    out = pawsx_outcomes(scores, gold, twin, label)
    nan = np.nan
    np.testing.assert_array_equal(out["clean"], [1, 1, nan, 0, nan])
    np.testing.assert_array_equal(out["adversarial"], [1, 0, nan, 0, nan])
    np.testing.assert_array_equal(out["win"], [1, 0, nan, 1, nan])
    np.testing.assert_array_equal(out["para"], [nan, nan, 1, nan, 0])


def test_pawsx_outcomes_count_ties_at_their_expected_value():
    """An order-blind encoder gives a sentence and its word swap one vector: a tie is worth
    its expected value under random tie-breaking, never a miss that augmentation "fixes"."""
    # pool: 0 gold, 1 twin, 2 other, 3 other
    scores = np.array([
        [0.9, 0.9, 0.1, 0.2],  # label 0: gold ties twin -> clean 1, adversarial 1/2, win 1/2
        [0.8, 0.1, 0.8, 0.8],  # label 0: gold ties two others -> clean 1/3, adversarial 1/3, win 1
        [0.5, 0.5, 0.5, 0.1],  # label 1: gold and twin tie one other at the top -> para 2/3
        [0.5, 0.4, 0.5 + 5e-7, 0.1],  # label 1: within tolerance -> para 1/2
    ])
    gold, twin, label = np.zeros(4, int), np.ones(4, int), np.array([0, 0, 1, 1])
    out = pawsx_outcomes(scores, gold, twin, label)
    nan = np.nan
    np.testing.assert_allclose(out["clean"], [1, 1 / 3, nan, nan])
    np.testing.assert_allclose(out["adversarial"], [1 / 2, 1 / 3, nan, nan])
    np.testing.assert_allclose(out["win"], [1 / 2, 1, nan, nan])
    np.testing.assert_allclose(out["para"], [nan, nan, 2 / 3, 1 / 2])


def _pool_scores(query_vecs: np.ndarray, pool_vecs: np.ndarray) -> np.ndarray:
    return query_vecs @ pool_vecs.T


def test_pawsx_outcomes_with_copies_equal_the_deduplicated_pool():
    """A pool holding a copy of a gold and of a twin (as PAWS's rows reuse sentences) must
    give the outcomes of its deduplicated form once items point at distinct sentences:
    that is what build_pawsx_adv guarantees, and what tie-breaking got wrong before."""
    rng = np.random.default_rng(0)
    distinct = rng.normal(size=(6, 8))  # 0 gold-a, 1 twin-a, 2 gold-b, 3 twin-b, 4-5 others
    distinct /= np.linalg.norm(distinct, axis=1, keepdims=True)
    queries = distinct[[0, 2, 0]] + 0.1 * rng.normal(size=(3, 8))
    gold, twin, label = np.array([0, 2, 0]), np.array([1, 3, 1]), np.array([0, 1, 0])
    expected = pawsx_outcomes(_pool_scores(queries, distinct), gold, twin, label)
    # the raw pool as rows list it: every row contributes its two sentences; 0 and 1 appear twice
    raw = distinct[[0, 1, 2, 3, 0, 1, 4, 5]]
    copies_scored = pawsx_outcomes(_pool_scores(queries, raw), np.array([0, 2, 4]), np.array([1, 3, 5]), label)
    # with copies, a gold ties with its own copy and counts as a miss: the artifact
    assert np.nansum(copies_scored["clean"]) < np.nansum(expected["clean"])
    # deduplicated as the builder does (first occurrence), the outcomes are the distinct pool's
    first = {}
    index = [first.setdefault(tuple(v), len(first)) for v in raw]
    pool = np.array([v for v in dict.fromkeys(map(tuple, raw))])
    remap = np.array(index)
    dedup = pawsx_outcomes(_pool_scores(queries, pool), remap[[0, 2, 4]], remap[[1, 3, 5]], label)
    for key in expected:
        np.testing.assert_array_equal(dedup[key], expected[key])
