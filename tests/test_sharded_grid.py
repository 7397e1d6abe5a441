"""The exact sharded grid: shard top-k lists merge into the single-machine grid's top-k, ties
included; the lazy text store; the checksum cache; the Ray executor on the XOR miniature."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xqg_core.retrieval.ranking import PassageSide, dense_ranking, mixed_scores
from xqg_core.retrieval.topk import merge_top_k, passage_scores, top_k_exact
from xqg_core.study.controls import ablation_variants, variant_sums
from xqg_core.study.executors import LocalExecutor, make_executor
from xqg_core.study.sharded_grid import LazyTexts, rank_shard, shard_ranges, sharded_ranking

LANGS = ("ar", "de", "zh")


def tied_index(rng, passages: int, dim: int = 8, n_max: int = 2):
    """P, S [n_max, passages, dim], S_lang [langs, passages, dim] with exact ties: duplicated
    passages (same P and S rows) and values on a coarse grid, so many scores are equal."""
    P = np.round(rng.standard_normal((passages, dim)), 1).astype(np.float32)
    S_lang = np.round(rng.standard_normal((len(LANGS), passages, dim)), 1).astype(np.float32)
    for src, dst in ((0, passages - 1), (1, passages // 2)):
        P[dst], S_lang[:, dst] = P[src], S_lang[:, src]
    S = np.stack([S_lang.sum(0) * (n + 1) / n_max for n in range(n_max)]).astype(np.float32)
    return P, S, S_lang


def write_index(root: Path, P, S, S_lang) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name, array in (("P", P), ("S", S), ("S_lang", S_lang)):
        np.save(root / f"{name}.npy", array)
    return root


def test_top_k_exact_is_the_total_order_and_merges_exactly():
    rng = np.random.default_rng(0)
    scores = rng.integers(0, 4, (50, 300)).astype(np.float32)  # ties everywhere, also across the cut
    ids, vals = top_k_exact(scores, 20)
    order = np.lexsort((np.broadcast_to(np.arange(300), scores.shape), -scores), axis=-1)[:, :20]
    assert np.array_equal(ids, order) and np.array_equal(vals, np.take_along_axis(scores, order, 1))
    cuts = [0, 1, 2, 40, 41, 299, 300]
    parts = [top_k_exact(scores[:, a:b], 20, a) for a, b in zip(cuts[:-1], cuts[1:])]
    merged = merge_top_k([p[0] for p in parts], [p[1] for p in parts], 20)
    assert np.array_equal(merged[0], ids) and np.array_equal(merged[1], vals)


def test_passage_scores_of_a_shard_are_the_columns_of_the_whole():
    """BLAS sums a one- or two-row product in another order: tiles fixed by the global index keep them equal."""
    rng = np.random.default_rng(1)
    Q, X = rng.standard_normal((37, 48)).astype(np.float32), rng.standard_normal((101, 48)).astype(np.float32)
    for tile in (1, 2, 5, 4096):
        whole = passage_scores(Q, X, tile=tile)
        assert np.allclose(whole, Q @ X.T, atol=1e-4)
        for a, b in shard_ranges(101, 3, tile) if tile < 101 else [(0, 101)]:
            assert np.array_equal(passage_scores(Q, X[a:b], a, tile), whole[:, a:b])


@pytest.mark.parametrize("shard_passages,tile", [(1, 1), (2, 2), (3, 3), (16, 4), (4096, 4096)])
def test_sharded_ranking_equals_the_dense_grid_for_every_variant(tmp_path, shard_passages, tile):
    rng = np.random.default_rng(shard_passages)
    P, S, S_lang = tied_index(rng, 23)
    Q = np.round(rng.standard_normal((11, 8)), 1).astype(np.float32)
    Q[3] = Q[4]
    index = write_index(tmp_path / "index", P, S, S_lang)
    np.save(tmp_path / "Q.npy", Q)
    alphas = (0.0, 0.01, 0.5, 1.0)
    for variant in ("xqg", "shuffled", *ablation_variants(LANGS)):
        ids, reports = sharded_ranking(LocalExecutor(), tmp_path / "Q.npy", index, variant, alphas, 7, shard_passages,
                                       tmp_path / "scratch", LANGS, seed=5, tile=tile)
        shards = len(shard_ranges(23, shard_passages, tile))
        assert sum("shard" in r for r in reports) == shards and sum("merge" in r for r in reports) == shards - 1
        sums = variant_sums(variant, S, S_lang, LANGS, seed=5)
        dense = dense_ranking(Q, sums, PassageSide.build(Q, P, 7, tile), tile)
        assert ids.shape == (len(alphas), len(sums), 11, 7)
        for a, alpha in enumerate(alphas):
            for n in range(1, len(sums) + 1):
                assert np.array_equal(ids[a, n - 1], dense(alpha, n)), (variant, alpha, n)
    # resumable: a finished shard is not ranked again
    again = sharded_ranking(LocalExecutor(), tmp_path / "Q.npy", index, "xqg", alphas, 7, shard_passages,
                            tmp_path / "scratch", LANGS, seed=5, tile=tile)[1]
    assert all(r["skipped"] for r in again)


@settings(max_examples=150, deadline=None, derandomize=True)
@given(passages=st.integers(1, 40), queries=st.integers(1, 6), k=st.integers(1, 12), tile=st.integers(1, 9),
       per_shard=st.integers(1, 20), block=st.integers(1, 20), pool=st.integers(1, 12), seed=st.integers(0, 1000))
def test_rank_shard_merge_equals_whole_top_k(passages, queries, k, tile, per_shard, block, pool, seed):
    """Shards, blocks inside a shard and the pruned candidates (``pool``) all give the top-k of
    the whole mixed score matrix."""
    rng = np.random.default_rng(seed)
    P = rng.integers(-2, 3, (passages, 4)).astype(np.float32)  # integer vectors: many exact ties
    S = rng.integers(-2, 3, (2, passages, 4)).astype(np.float32)
    Q = rng.integers(-2, 3, (queries, 4)).astype(np.float32)
    if seed % 2:  # real-valued scores: the pruning bound is beaten and used, not only fallen back from
        P, S, Q = (x + rng.standard_normal(x.shape).astype(np.float32) for x in (P, S, Q))
    alphas = (0.0, 0.01, 0.25, 0.5, 1.0)
    parts = [rank_shard(Q, P[a:b], S[:, a:b], a, alphas, k, tile, block * tile, pool)
             for a, b in shard_ranges(passages, per_shard, tile)]
    ids, vals = merge_top_k([p[0] for p in parts], [p[1] for p in parts], k)
    dense = dense_ranking(Q, S, PassageSide.build(Q, P, k, tile, pool), tile)  # the in-process grid, pruned the same way
    QP = passage_scores(Q, P, tile=tile)
    for a, alpha in enumerate(alphas):
        for n in (1, 2):
            whole = top_k_exact(mixed_scores(QP, passage_scores(Q, S[n - 1], tile=tile), alpha), k)[0]
            assert np.array_equal(ids[a, n - 1], whole), (alpha, n)
            assert np.array_equal(dense(alpha, n), whole), (alpha, n)


def test_pruned_ranking_falls_back_by_blocks_of_rows_exactly(monkeypatch):
    """Queries whose candidate pools do not settle their top-k are ranked over every passage,
    several at a time (blocks of ``FALLBACK_ROWS``): the same top-k as the whole score matrix."""
    from xqg_core.retrieval import topk

    monkeypatch.setattr(topk, "FALLBACK_ROWS", 3)
    rng = np.random.default_rng(4)
    QP = rng.integers(-3, 4, (20, 60)).astype(np.float32)  # ties across every cut
    QS = rng.integers(-9, 10, (20, 60)).astype(np.float32)
    candidates = topk.MixedCandidates.build(QP, QS, pool=6)
    for alpha in (0.01, 0.3, 0.9):
        whole = top_k_exact(mixed_scores(QP, QS, alpha), 5)
        got = topk.mixed_top_k(QP, QS, alpha, 5, candidates=candidates)
        assert np.array_equal(got[0], whole[0]) and np.array_equal(got[1], whole[1])


def test_lazy_texts_read_only_what_is_asked(tmp_path):
    corpus = tmp_path / "corpus.jsonl"
    records = [{"docid": f"d{i}", "title": "", "text": f"text {i} ü"} for i in range(5)]
    corpus.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    texts = LazyTexts(corpus)
    assert len(texts) == 5 and texts[3] == "text 3 ü" and texts[0] == "text 0 ü"
    assert np.array_equal(LazyTexts(corpus).offsets, texts.offsets)  # offsets read back, not rebuilt
    corpus.write_text(corpus.read_text(encoding="utf-8") + json.dumps({"docid": "d5", "title": "", "text": "x"}) + "\n")
    assert len(LazyTexts(corpus)) == 6  # a changed corpus: offsets rebuilt


def test_file_checksums_are_cached_by_path_size_and_mtime(tmp_path, monkeypatch):
    import hashlib

    from xqg_core import checksums

    monkeypatch.setenv("XQG_CACHE", str(tmp_path / "cache"))
    f = tmp_path / "big.bin"
    f.write_bytes(b"abc" * 1000)
    expected = hashlib.sha1(b"abc" * 1000).hexdigest()
    assert checksums.file_sha1(f) == expected
    reads = []
    real_open = open
    monkeypatch.setattr("builtins.open", lambda path, *a, **kw: reads.append(str(path)) or real_open(path, *a, **kw))
    assert checksums.file_sha1(f) == expected and str(f) not in reads  # from the cache: the file is not read
    monkeypatch.setattr("builtins.open", real_open)
    f.write_bytes(b"abd" * 1000)  # same size, new contents (and mtime)
    assert checksums.file_sha1(f) == hashlib.sha1(b"abd" * 1000).hexdigest()


def test_executor_names_are_checked():
    from xqg_core.errors import XqgError

    with pytest.raises(XqgError, match="--ray-address needs --executor ray"):
        make_executor("local", "auto")
    with pytest.raises(XqgError, match="choose one of local, ray"):
        make_executor("slurm")


def test_xor_miniature_on_ray_equals_the_local_run(tmp_path, write_xor_miniature):
    """generate and encode shards as Ray tasks, the grid ranked by Ray shard tasks and merged:
    the same results.parquet and per-query outcomes as the in-process run (dense grid)."""
    from xqg_core.cli import main
    from xqg_core.io import load_arrays_parquet

    local = write_xor_miniature(tmp_path / "local")
    on_ray = write_xor_miniature(tmp_path / "ray")
    assert main(["precompute", "--config", str(local)]) == 0
    assert main(["precompute", "--config", str(on_ray), "--executor", "ray"]) == 0
    work = tmp_path / "ray" / "work"
    assert len(list(work.glob("encode-*-xor-corpus.?-2.done.json"))) == 2
    reports = json.loads((work / "grid-xor-retrieve" / "shard_reports.json").read_text())
    assert {sum("shard" in x for x in r) for r in reports.values()} == {3}  # 9 passages in grid shards of 4
    assert {sum("merge" in x for x in r) for r in reports.values()} == {2}  # merged pairwise: two rounds
    a = pd.read_parquet(tmp_path / "local" / "out" / "results.parquet")
    b = pd.read_parquet(tmp_path / "ray" / "out" / "results.parquet")
    pd.testing.assert_frame_equal(a, b)
    (oa,), (ob,) = ((tmp_path / side / "out" / "outcomes").rglob("*.parquet") for side in ("local", "ray"))
    ta, tb = load_arrays_parquet(oa), load_arrays_parquet(ob)
    assert ta.keys() == tb.keys() and all(np.array_equal(ta[k], tb[k], equal_nan=True) for k in ta)
    # every shard already ranked: a rerun on Ray redoes nothing
    assert main(["precompute", "--config", str(on_ray), "--executor", "ray"]) == 0
