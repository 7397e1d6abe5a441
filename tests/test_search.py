from __future__ import annotations

import json

import numpy as np

from xqg_core.retrieval.search import search, write_trec_run, write_xor_predictions


def test_flat_ip_equals_brute_force():
    rng = np.random.default_rng(0)
    p = rng.normal(size=(500, 16)).astype(np.float32)
    q = rng.normal(size=(20, 16)).astype(np.float32)
    scores, ids = search(p, q, 10)
    full = q @ p.T
    want = np.argsort(-full, axis=1)[:, :10]
    np.testing.assert_array_equal(ids, want)
    np.testing.assert_allclose(scores, np.take_along_axis(full, want, 1), rtol=1e-5)


def test_k_is_capped_at_corpus_size():
    p = np.eye(3, dtype=np.float32)
    scores, ids = search(p, p, 10)
    assert ids.shape == (3, 3) and list(ids[:, 0]) == [0, 1, 2]


def test_exports(tmp_path):
    ranked = np.array([[2, 0], [1, -1]])
    scores = np.array([[0.9, 0.5], [0.7, 0.0]], dtype=np.float32)
    write_trec_run(tmp_path / "run.trec", ["q1", "q2"], ["d0", "d1", "d2"], scores, ranked, "xqg")
    assert (tmp_path / "run.trec").read_text().splitlines() == [
        "q1 Q0 d2 1 0.900000 xqg", "q1 Q0 d0 2 0.500000 xqg", "q2 Q0 d1 1 0.700000 xqg"]
    write_xor_predictions(tmp_path / "pred.json", ["q1", "q2"], ["ja", "ar"], ranked, ["t0", "t1", "t2"])
    assert json.loads((tmp_path / "pred.json").read_text()) == [
        {"id": "q1", "lang": "ja", "ctxs": ["t2", "t0"]}, {"id": "q2", "lang": "ar", "ctxs": ["t1"]}]
