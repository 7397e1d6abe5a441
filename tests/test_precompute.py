"""The precompute on a miniature of the default study (real data, real encoders) and on a
miniature XOR-TyDi setting in the official file formats (sharded).

Generated queries come from a released-form file the tests write (the offline generator
is trained, not shipped): for each passage and language, n windows of the passage's words.
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from xqg_core.cli import main
from xqg_core.pipeline.context import Pipeline
from xqg_core.pipeline.run import run_study
from xqg_core.retrieval.augment import augment_passages
from xqg_core.retrieval.evaluate import evaluate_xor_retrieve
from xqg_core.retrieval.search import search
from xqg_core.study.artifacts import ArtifactError, load_artifacts, resolve_study
from xqg_core.study.config import PrecomputeConfig
from xqg_core.study.inputs import read_jsonl

ROOT = Path(__file__).resolve().parent.parent
LANGS = ("ar", "de", "es", "hi", "ru", "vi", "zh")


def test_small_study_writes_every_cell(small_study):
    arts = load_artifacts(small_study.output_dir)
    res = arts.results()
    langs = {"xquad-xr": set(LANGS) | {"avg", "avg_supported"},
             "pawsx-adv": {"de", "es", "fr", "ja", "ko", "zh", "avg", "avg_supported"}}
    for bench, metrics in (("xquad-xr", {"R@2kt", "R@5kt", "Recall@20", "Recall@100", "MRR@10"}),
                           ("pawsx-adv", {"clean_acc1", "adv_acc1", "drop", "win_rate", "para_acc1"})):
        sub = res[res.benchmark == bench]
        assert set(sub.metric) == metrics
        assert set(sub.lang) == langs[bench]
        plms, alphas = len(small_study.encoders), len(small_study.alphas)
        assert len(sub) == plms * alphas * 2 * len(langs[bench]) * len(metrics)  # plm x alpha x n x lang x metric
        base = sub[sub.alpha == 0].pivot_table(index=["plm", "lang", "metric"], columns="n", values="value")
        assert np.allclose(base[1], base[2], equal_nan=True)  # P' = P at alpha = 0, whatever n
        assert (sub[sub.alpha == 0].p_value == 1).all()
    # avg_supported: the macro over the PLM's own languages (use-m-v3 has no hi or vi), p over those queries
    xq = res[(res.benchmark == "xquad-xr") & (res.alpha == 0) & (res.n == 1)].set_index(["plm", "lang", "metric"])
    for metric in ("R@2kt", "MRR@10"):
        per = xq.value.loc["use-m-v3"].unstack("metric")[metric]
        assert np.isclose(per.loc["avg_supported"], per.loc[[l for l in LANGS if l not in ("hi", "vi")]].mean())
        assert np.isclose(xq.value.loc[("me5-small", "avg_supported", metric)], xq.value.loc[("me5-small", "avg", metric)])
    assert xq.num_queries.loc[("use-m-v3", "avg_supported", "MRR@10")] == sum(
        xq.num_queries.loc[("use-m-v3", l, "MRR@10")] for l in LANGS if l not in ("hi", "vi"))
    # the English pool of PAWS-X: gold sentence1 beats random sentences for a multilingual encoder
    clean = res[(res.benchmark == "pawsx-adv") & (res.metric == "clean_acc1") & (res.lang == "avg") & (res.alpha == 0)]
    assert (clean.value > 50).all()
    pair = res[(res.benchmark == "pawsx-pair") & (res.metric == "pair_acc")]
    assert set(pair.lang) == {"en", "de", "es", "fr", "ja", "ko", "zh", "avg"} and pair.value.between(0, 100).all()
    gq = arts.table("generated_queries.parquet")
    assert list(gq.columns) == ["corpus", "passage_id", "lang", "i", "text"] and set(gq.i) == {0, 1}
    umap = arts.table("umap.parquet")
    assert set(umap.kind) == {"passage", "augmented", "query"} and np.isfinite(umap[["x", "y"]].to_numpy()).all()
    # schema 5: int8 rows with per-row scales, S centred on its per-n mean, then int8 residual levels
    assert arts.index_files("me5-small") == ["index/me5-small.safetensors", "index/me5-small.level2.safetensors",
                                             "index/me5-small.level3.safetensors"]
    first, *levels = (arts.tensors(rel) for rel in arts.index_files("me5-small"))
    assert [sorted(k for k in t if "." not in k) for t in levels] == [["P", "Q", "S"], ["P", "Q"]]
    assert all(t[k].dtype == np.int8 and t[f"{k}.scale"].shape == first[k].shape[:-1] for t in levels for k in t
               if "." not in k)
    idx = arts.index("me5-small")
    assert idx["P"].dtype == np.float32 and idx["S"].shape == (2, *idx["P"].shape)
    assert arts.manifest["corpora"]["xquad-xr"]["num_passages"] == idx["P"].shape[0]
    work = small_study.resolved_work()
    P, S = np.load(work / "index-me5-small-xquad-xr" / "P.npy"), np.load(work / "index-me5-small-xquad-xr" / "S.npy")
    assert first["S.mean"].shape == (S.shape[0], S.shape[2]) and np.allclose(first["S.mean"], S.mean(axis=1), atol=1e-5)
    # each level's step at most 1/254 of the one before; the index within half the last level's step
    for key, exact, last in (("P", P, levels[1]), ("S", S, levels[0])):
        assert np.all(np.abs(idx[key] - exact) <= last[f"{key}.scale"][..., None] / 2 + 1e-6)
        assert np.all(levels[0][f"{key}.scale"] <= first[f"{key}.scale"] / 254 + 1e-9)
    # level 3 works at float32's resolution: half level 2's step plus one rounding of the row's largest value
    assert np.all(levels[1]["P.scale"] <= (levels[0]["P.scale"] / 2 + np.spacing(np.abs(P).max(axis=1))) / 127)
    assert set(arts.manifest["stage_seconds"]) >= {"corpora", "grid-xquad-xr", "umap"}


def test_grid_equals_brute_force(small_study):
    """A cell recomputed naively: loop sums, P' materialised, faiss search, the official R@kt."""
    cfg = small_study
    arts = load_artifacts(cfg.output_dir)
    built = resolve_study(arts)
    passages, queries = built.corpora["xquad-xr"], built.queries["xquad-xr"]
    work = cfg.resolved_work()
    enc = work / "encode-me5-small-xquad-xr"
    P, E = np.load(enc / "P.npy").astype(np.float64), np.load(enc / "E.npy").astype(np.float64)
    owner, rank = np.load(enc / "passage_index.npy"), np.load(enc / "rank_index.npy")
    alpha, n = 0.05, 1
    S = np.zeros_like(P)
    for j in range(len(E)):
        if rank[j] < n:
            S[owner[j]] += E[j]
    Q = np.load(work / "queries-me5-small-xquad-xr" / "Q.npy")
    _, ranked = search(augment_passages(P, S, alpha), Q, 100)
    preds = [{"id": q["id"], "lang": q["lang"], "ctxs": [passages[d].text for d in ranked[i]]}
             for i, q in enumerate(queries)]
    official = evaluate_xor_retrieve({q["id"]: q["answers"] for q in queries}, preds)
    res = arts.results()
    cell = res[(res.benchmark == "xquad-xr") & (res.plm == "me5-small") & (res.alpha == alpha) & (res.n == n)]
    for metric in ("R@2kt", "R@5kt"):
        got = cell[cell.metric == metric].set_index("lang").value
        for lang, value in official[metric].items():
            assert got[lang] == pytest.approx(value, abs=1e-9), (metric, lang)
    position = {p.docid: i for i, p in enumerate(passages)}
    mrr = [next((1 / (r + 1) for r, d in enumerate(ranked[i][:10]) if passages[d].docid in q["gold"]), 0.0)
           for i, q in enumerate(queries)]
    assert all(position[g] >= 0 for q in queries for g in q["gold"])
    by_lang = pd.Series(mrr).groupby([q["lang"] for q in queries]).mean() * 100
    got = cell[cell.metric == "MRR@10"].set_index("lang").value
    for lang, value in by_lang.items():
        assert got[lang] == pytest.approx(value, abs=1e-6)
    # the shuffled control: each passage augmented with the sums of another (a derangement, seed from the config)
    from xqg_core.study.controls import derangement

    _, ranked = search(augment_passages(P, S[derangement(len(P), cfg.seed)], alpha), Q, 100)
    preds = [{"id": q["id"], "lang": q["lang"], "ctxs": [passages[d].text for d in ranked[i]]}
             for i, q in enumerate(queries)]
    official = evaluate_xor_retrieve({q["id"]: q["answers"] for q in queries}, preds)
    every = arts.results(None)
    shuffled = every[(every.variant == "shuffled") & (every.benchmark == "xquad-xr") & (every.plm == "me5-small")
                     & (every.alpha == alpha) & (every.n == n)]
    for metric in ("R@2kt", "R@5kt"):
        got = shuffled[shuffled.metric == metric].set_index("lang").value
        for lang, value in official[metric].items():
            assert got[lang] == pytest.approx(value, abs=1e-9), ("shuffled", metric, lang)


def test_each_pawsx_text_is_encoded_once_and_read_back_in_place(small_study):
    """PAWS-X's queries are pair sentences too: the queries stage encodes each distinct text once,
    and every row of Q, pair_s1 and pair_s2 is that text's encoding."""
    from xqg_core.models.encoders import load_encoder

    work = small_study.resolved_work()
    items = read_jsonl(work / "corpora" / "pawsx-adv" / "queries.jsonl")
    pairs = read_jsonl(work / "corpora" / "pawsx-adv" / "pairs.jsonl")
    d = work / "queries-use-m-v3-pawsx-adv"
    Q, s1, s2 = (np.load(d / f) for f in ("Q.npy", "pair_s1.npy", "pair_s2.npy"))
    texts = [*(q["text"] for q in items), *(r["s1"] for r in pairs), *(r["s2"] for r in pairs)]
    row: dict[str, np.ndarray] = {}
    for text, vector in zip(texts, [*Q, *s1, *s2]):
        np.testing.assert_array_equal(row.setdefault(text, vector), vector)
    assert len(row) < len(set(q["text"] for q in items)) + len(set(texts[len(items):]))  # shared texts
    sample = [q["text"] for q in items[:20]]
    np.testing.assert_allclose(load_encoder("use-m-v3").encode_queries(sample), np.stack([row[t] for t in sample]),
                               atol=1e-5)


def test_pawsx_cell_equals_brute_force(small_study):
    cfg = small_study
    arts = load_artifacts(cfg.output_dir)
    items = read_jsonl(cfg.resolved_work() / "corpora" / "pawsx-adv" / "queries.jsonl")
    work = cfg.resolved_work()
    P = np.load(work / "index-use-m-v3-pawsx-test" / "P.npy")
    S = np.load(work / "index-use-m-v3-pawsx-test" / "S.npy")
    Q = np.load(work / "queries-use-m-v3-pawsx-adv" / "Q.npy")
    alpha, n = 0.01, 2
    Pa = augment_passages(P, S[n - 1], alpha).astype(np.float64)
    outcomes = {"clean_acc1": [], "adv_acc1": [], "win_rate": [], "para_acc1": []}
    pool = read_jsonl(work / "corpora" / "pawsx-test" / "corpus.jsonl")
    assert len({p["text"] for p in pool}) == len(pool)
    nan = float("nan")
    tol = 1e-6  # ties count their expected value under random tie-breaking

    def share_at_top(s, candidates, hits):  # hits / sentences tied with the best hit, 0 unless it is on top
        best_hit = max(s[j] for j in hits)
        if best_hit < max(s[j] for j in candidates) - tol:
            return 0.0
        return sum(abs(s[j] - best_hit) <= tol for j in hits) / sum(abs(s[j] - best_hit) <= tol for j in candidates)

    for i, it in enumerate(items):
        s = Pa @ Q[i]
        gold, twin = it["gold"], it["twin"]
        everything = range(len(s))
        adversarial_row = it["label"] == 0
        g, t = s[gold], s[twin]
        outcomes["clean_acc1"].append(share_at_top(s, [j for j in everything if j != twin], [gold])
                                      if adversarial_row else nan)
        outcomes["adv_acc1"].append(share_at_top(s, everything, [gold]) if adversarial_row else nan)
        outcomes["win_rate"].append((0.5 if abs(g - t) <= tol else float(g > t)) if adversarial_row else nan)
        outcomes["para_acc1"].append(nan if adversarial_row else share_at_top(s, everything, [gold, twin]))
    res = arts.results()
    cell = res[(res.benchmark == "pawsx-adv") & (res.plm == "use-m-v3") & (res.alpha == alpha) & (res.n == n)]
    langs = [it["lang"] for it in items]
    for metric, values in outcomes.items():
        expected = pd.Series(values, dtype=float).groupby(langs).mean() * 100
        got = cell[cell.metric == metric].set_index("lang")
        for lang, value in expected.items():
            assert got.value[lang] == pytest.approx(value, abs=1e-6)
            assert got.num_queries[lang] == int(pd.Series(values)[np.array(langs) == lang].notna().sum())
        assert got.value["avg"] == pytest.approx(expected.mean(), abs=1e-6)


def test_unchanged_inputs_skip_every_stage(small_study):
    cfg = small_study
    manifest = (Path(cfg.output_dir) / "manifest.json").read_text()
    timings = cfg.resolved_work() / "timings.jsonl"
    before = len(timings.read_text().splitlines())
    run_study(cfg)
    new = [json.loads(line) for line in timings.read_text().splitlines()[before:]]
    assert new and all(r["skipped"] for r in new)
    assert (Path(cfg.output_dir) / "manifest.json").read_text() == manifest


def test_a_damaged_or_half_swapped_study_is_repaired_by_the_export(small_study, tmp_path):
    """`--stage export` re-exports a study whose files no longer match its manifest (it used to
    skip it, its inputs unchanged) and finishes a swap a kill cut short."""
    import dataclasses
    import shutil

    out = tmp_path / "arts"
    shutil.copytree(small_study.output_dir, out)
    cfg = dataclasses.replace(small_study, output_dir=str(out))
    results = (out / "results.parquet").read_bytes()
    (out / "results.parquet").write_bytes(results[:-10])
    run_study(cfg, stage="export")
    assert load_artifacts(out).results().equals(load_artifacts(small_study.output_dir).results())
    (out / ".export.discard" / "texts").mkdir(parents=True)  # killed while removing the old study
    run_study(cfg, stage="export")
    assert not (out / ".export.discard").exists()


def test_a_file_changed_in_place_with_its_mtime_put_back_is_caught_by_reading_it(small_study, tmp_path):
    """The checksum cache trusts path, size, mtime and inode; the dashboard's first load per
    process reads every byte (read_content) and sees the change."""
    import os
    import shutil

    out = tmp_path / "arts"
    shutil.copytree(small_study.output_dir, out)
    load_artifacts(out)  # the checksums are cached now
    target = next((out / "index").glob("*.safetensors"))
    stat = target.stat()
    with open(target, "r+b") as fh:  # in place: same inode, same size
        fh.seek(stat.st_size // 2)
        fh.write(bytes(64))
    os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    load_artifacts(out)  # what the cache alone cannot see
    with pytest.raises(ArtifactError, match="checksum differs"):
        load_artifacts(out, read_content=True)


def test_artifact_validation_explains_mismatches(small_study, tmp_path):
    import shutil

    out = tmp_path / "arts"
    shutil.copytree(small_study.output_dir, out)
    load_artifacts(out)
    target = out / "results.parquet"
    target.write_bytes(target.read_bytes()[:-10])
    with pytest.raises(ArtifactError, match="results.parquet: checksum differs.*precompute --config"):
        load_artifacts(out)
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["schema_version"] = 999
    (out / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match="schema_version 999, this code reads 2, 3, 4"):
        load_artifacts(out)
    (out / "manifest.json").unlink()
    with pytest.raises(ArtifactError, match="no artifacts here; rebuild"):
        load_artifacts(out)


def test_killed_encode_resumes_without_corrupt_output(tmp_path, data_dir, monkeypatch, make_small_config):
    """A kill in the middle of encoding: no stage output, finished chunks reused, same result."""
    from xqg_core.models import encoders

    cfg = make_small_config(tmp_path, data_dir)
    cfg = dataclasses.replace(cfg, encoders=("use-m-v3",), pawsx_adv=None, umap=None)
    pipe = Pipeline(cfg)
    pipe.corpora()
    pipe.generate("xquad-xr", 0)
    original = encoders.UseEncoder.encode_queries
    calls = {"n": 0}

    def dying(self, texts, **kw):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt  # the process is killed mid-stage
        return original(self, texts, **kw)

    monkeypatch.setattr(encoders.UseEncoder, "encode_queries", dying)
    with pytest.raises(KeyboardInterrupt):
        pipe.encode("use-m-v3", "xquad-xr", 0)
    work = cfg.resolved_work()
    assert not (work / "encode-use-m-v3-xquad-xr").exists()
    assert not (work / "encode-use-m-v3-xquad-xr.done.json").exists()
    chunks = sorted(p.name for p in (work / "encode-use-m-v3-xquad-xr.scratch").iterdir() if not p.name.startswith("."))
    assert [c.rsplit("-", 1)[0] for c in chunks[:2]] == ["generated-64-00000", "generated-64-00001"]
    calls["n"] = -100
    Pipeline(cfg).encode("use-m-v3", "xquad-xr", 0)
    assert calls["n"] == -100 + (len(read_jsonl(work / "generate-xquad-xr" / "generated.jsonl")) * 14 + 63) // 64 - 2
    E = np.load(work / "encode-use-m-v3-xquad-xr" / "E.npy")
    fresh = tmp_path / "fresh"
    cfg2 = dataclasses.replace(cfg, work_dir=str(fresh))
    monkeypatch.setattr(encoders.UseEncoder, "encode_queries", original)
    p2 = Pipeline(cfg2)
    p2.corpora()
    p2.generate("xquad-xr", 0)
    p2.encode("use-m-v3", "xquad-xr", 0)
    assert np.array_equal(E, np.load(fresh / "encode-use-m-v3-xquad-xr" / "E.npy"))


def test_encoding_resumed_with_another_chunk_size_never_reads_the_old_chunks(tmp_path):
    """A kill, then `encode_chunk` changed: the chunks cut for the old size are not resumed
    (they were: P.npy got rows from both cuttings, then an IndexError)."""
    from xqg_core.pipeline.stage_encode import encode_resumable

    texts = [f"text {i}" for i in range(10)]
    encode = lambda batch: np.array([[float(t.split()[1]), len(batch)] for t in batch])
    seen = []

    def dying(batch):
        if len(seen) == 2:
            raise KeyboardInterrupt
        seen.append(batch)
        return encode(batch)

    with pytest.raises(KeyboardInterrupt):
        encode_resumable(dying, texts, tmp_path, "q", 4)
    out = encode_resumable(encode, texts, tmp_path, "q", 3)
    assert out[:, 0].tolist() == list(range(10)) and set(out[:, 1]) == {3, 1}  # every chunk cut by 3
    seen.clear()
    again = encode_resumable(lambda b: seen.append(b) or encode(b), texts, tmp_path, "q", 4)
    assert len(seen) == 1 and again[:, 0].tolist() == list(range(10))  # the two chunks of 4 resumed


def test_xor_miniature_end_to_end_with_shards(tmp_path, write_xor_miniature):
    """The paper's setting in miniature: Tevatron corpus, XOR-Retrieve questions, released
    queries, a local Hugging Face encoder, two shards run as separate jobs, then the merge."""
    path = write_xor_miniature(tmp_path)
    for stage in ("generate", "encode"):
        for shard in ("1", "0"):  # array jobs finish in any order
            assert main(["precompute", "--config", str(path), "--stage", stage, "--shard", shard]) == 0
    work = tmp_path / "work"
    assert (work / "generate-xor-corpus.0-2.done.json").is_file()
    assert len(list(work.glob("encode-*-xor-corpus.?-2.done.json"))) == 2
    assert main(["precompute", "--config", str(path)]) == 0
    arts = load_artifacts(tmp_path / "out")
    res = arts.results()
    assert set(res.benchmark) == {"xor-retrieve"}
    r2 = res[(res.metric == "R@2kt") & (res.alpha == 0.01) & (res.n == 3)].set_index("lang")
    assert set(r2.index) == {"ja", "ko", "ar", "avg", "avg_supported"}
    assert r2.loc["ja", "num_queries"] == 2  # the yes/no-only question is skipped, as officially
    assert r2.loc["ar", "value"] == 100.0  # 9 short passages: the answer is always in the first 2,000 tokens
    merged = [p for p in work.iterdir() if p.name.startswith("index-") and p.is_dir()]
    assert len(merged) == 1 and np.load(merged[0] / "S.npy").shape[:2] == (3, 9)
    assert main(["precompute", "--config", str(path), "--stage", "grid", "--shard", "0"]) == 2


def test_configs_parse_and_reject_unknown_settings(tmp_path):
    from xqg_core.errors import DataFormatError

    full = PrecomputeConfig.from_yaml(ROOT / "configs" / "xor_tydi_full.yaml")
    assert full.encoders == ("mbert-xdr",) and full.generator == "xqg-mt5" and full.num_shards > 1
    assert full.benchmarks() == ["xor-retrieve"] and 0.01 in full.alphas
    default = PrecomputeConfig.from_yaml(ROOT / "configs" / "default.yaml")
    assert default.alphas[:5] == (0.0, 0.0025, 0.005, 0.0075, 0.01) and default.alphas[-1] == 0.2
    assert default.xquad_xr.distractors is None and len(default.encoders) >= 2  # all Vital Articles passages
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nxquad_xr:\n  distractor: 5\n")
    with pytest.raises(DataFormatError, match="xquad_xr.distractor.*unknown setting"):
        PrecomputeConfig.from_yaml(bad)
    bad.write_text("alphas: [0.01, 0.02]\n")
    with pytest.raises(DataFormatError, match="alphas must start at 0"):
        PrecomputeConfig.from_yaml(bad)


def test_generation_is_reused_from_a_study_only_when_it_is_the_same(small_study, tmp_path):
    """--reuse-generated takes an earlier study's queries when its manifest shows the same
    generation, writing exactly what generating again writes; any difference is refused."""
    import dataclasses

    from xqg_core.errors import XqgError
    from xqg_core.pipeline.context import Pipeline
    from xqg_core.pipeline.run import run_study

    cfg = dataclasses.replace(small_study, work_dir=str(tmp_path / "work"), output_dir=str(tmp_path / "out"),
                              reuse_generated=small_study.output_dir)
    run_study(cfg, stage="generate")
    for corpus in Pipeline(cfg).corpus_names():
        reused = Pipeline(cfg).out(f"generate-{corpus}") / "generated.jsonl"
        generated = Pipeline(small_study).out(f"generate-{corpus}") / "generated.jsonl"
        assert reused.read_bytes() == generated.read_bytes()
    other = dataclasses.replace(cfg, seed=cfg.seed + 1, work_dir=str(tmp_path / "work2"))
    with pytest.raises(XqgError, match=r"seed 42 != 43"):
        run_study(other, stage="generate")
    assert not (tmp_path / "work2" / "generate-xquad-xr.done.json").exists()
