from __future__ import annotations

import numpy as np

from xqg_core.studies import build_pawsx_adv, build_xquad_xr, pawsx_outcomes


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


def test_pawsx_adv(data_dir):
    bench = build_pawsx_adv(data_dir, "test")
    assert len(bench.pool) % 2 == 0 and len(bench.pool) <= 4000
    labels = {it.row: it.label for it in bench.items}
    assert 104 not in labels  # unknown derived label: left out
    assert {it.lang for it in bench.items} == {"de", "es", "fr", "ja", "ko", "zh"}
    it = bench.items[0]
    assert bench.pool[it.twin] != bench.pool[it.gold] and it.twin == it.gold + 1


def test_pawsx_outcomes_hand_checked():
    # pool: 0 gold-a, 1 twin-a, 2 gold-b, 3 twin-b, 4 other
    scores = np.array([
        [0.9, 0.8, 0.1, 0.1, 0.2],  # label 0: gold beats twin and the rest -> clean, adversarial, win
        [0.7, 0.9, 0.1, 0.1, 0.2],  # label 0: twin wins -> clean yes, adversarial no, win no
        [0.1, 0.1, 0.5, 0.9, 0.6],  # label 1: twin (a paraphrase) is top -> adversarial counts; clean no (0.5 < 0.6)
        [0.1, 0.1, 0.5, 0.4, 0.6],  # label 0: another sentence wins -> all no except win
    ])
    gold, twin, label = np.array([0, 0, 2, 2]), np.array([1, 1, 3, 3]), np.array([0, 0, 1, 0])
    out = pawsx_outcomes(scores, gold, twin, label)
    np.testing.assert_array_equal(out["clean"], [1, 1, 0, 0])
    np.testing.assert_array_equal(out["adversarial"], [1, 0, 1, 0])
    np.testing.assert_array_equal(out["win"], [1, 0, 0, 1])
