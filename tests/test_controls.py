"""The shuffled control: another passage's queries, the same grid, a paired test against xQG."""
from __future__ import annotations

import numpy as np
import pytest

from xqg_core.errors import XqgError
from xqg_core.study.artifacts import load_artifacts
from xqg_core.study.controls import derangement, shuffled_sums, versus_p_values


@pytest.mark.parametrize("n", [2, 3, 10, 1001])
def test_derangement_moves_every_passage_and_is_seeded(n):
    perm = derangement(n, 7)
    assert sorted(perm.tolist()) == list(range(n)) and not np.any(perm == np.arange(n))
    assert np.array_equal(perm, derangement(n, 7)) and (n < 10 or not np.array_equal(perm, derangement(n, 8)))


def test_derangement_needs_two_passages():
    with pytest.raises(XqgError, match="at least 2 passages"):
        derangement(1, 0)


def test_shuffled_sums_give_each_passage_another_passages_rows():
    S = np.arange(2 * 5 * 3, dtype=np.float32).reshape(2, 5, 3)
    shuffled = shuffled_sums(S, 0)
    perm = derangement(5, 0)
    assert np.array_equal(shuffled, S[:, perm]) and not any(np.array_equal(shuffled[:, i], S[:, i]) for i in range(5))


def test_versus_p_values_pair_the_same_cell_and_queries():
    alphas = [0.0, 0.1]
    ref = {"m": np.zeros((2, 1, 6))}
    var = {"m": np.zeros((2, 1, 6))}
    var["m"][1, 0, :3] = 1.0  # the variant differs on the first language's queries only
    masks = {"a": np.array([1, 1, 1, 0, 0, 0], bool), "b": np.array([0, 0, 0, 1, 1, 1], bool), "avg": np.ones(6, bool)}
    rows = [dict(alpha=a, n=1, lang=lang, metric="m") for a in alphas for lang in masks]
    seen = []
    p = versus_p_values(rows, alphas, ref, var, masks, dict, lambda x, y: seen.append((x.tolist(), y.tolist())) or 0.5)
    assert p == [1.0, 1.0, 1.0, 0.5, 0.5, 0.5]
    assert seen == [([0.0] * 3, [1.0] * 3), ([0.0] * 3, [0.0] * 3), ([0.0] * 6, [1.0] * 3 + [0.0] * 3)]


def test_study_carries_the_shuffled_control(small_study):
    arts = load_artifacts(small_study.output_dir)
    every = arts.results(None)
    langs = small_study.generation_langs
    assert set(every.variant.dropna()) == ({"xqg", "shuffled", "copy-only", "no-copy", "human"}
                                           | {f"{k}-{l}" for k in ("only", "without") for l in langs})
    grid = every[every.variant.isin(["xqg", "shuffled"])]
    keys = ["benchmark", "plm", "alpha", "n", "lang", "metric"]
    x = grid[grid.variant == "xqg"].set_index(keys)
    s = grid[grid.variant == "shuffled"].set_index(keys)
    assert x.index.sort_values().equals(s.index.sort_values())
    at0 = s.index.get_level_values("alpha") == 0
    np.testing.assert_allclose(s.value[at0], x.value.loc[s.index[at0]], equal_nan=True)  # P' = P for both
    assert (s.p_vs_xqg[at0] == 1).all() and s.p_vs_xqg[~at0].between(0, 1).all()
    assert x.loc[:, "p_vs_xqg"].isna().all() if "p_vs_xqg" in x.columns else True
    # default reads: xQG rows only, as the pages expect
    assert "variant" not in arts.results().columns
    assert len(arts.results()) == len(every[every.variant.isna() | (every.variant == "xqg")])
    t = arts.outcomes("xquad-xr", "me5-small")
    assert {"R@2kt", "shuffled/R@2kt"} <= set(t) and t["shuffled/R@2kt"].dtype == np.int8


def test_the_ablation_equals_augmenting_with_one_languages_queries(small_study):
    """only-de at n = n_max: P' = (1 - alpha) P + alpha * (sum of the de queries), checked by brute force."""
    from xqg_core.retrieval.augment import augment_passages
    from xqg_core.retrieval.search import search
    from xqg_core.study.artifacts import resolve_study

    arts = load_artifacts(small_study.output_dir)
    every = arts.results(None)
    ablation = every[every.variant.fillna("").str.match(r"(only|without)-")]
    assert (ablation.n == small_study.n_max).all() and set(ablation.alpha) <= {0.01, 0.05} and 0.01 in set(ablation.alpha)
    assert ablation.p_vs_xqg.between(0, 1).all() and (ablation.alpha > 0).all()
    work = small_study.resolved_work()
    enc = work / "encode-me5-small-xquad-xr"
    P, E = np.load(enc / "P.npy").astype(np.float64), np.load(enc / "E.npy").astype(np.float64)
    owner, rank, lang = (np.load(enc / f"{k}.npy") for k in ("passage_index", "rank_index", "lang_index"))
    de = list(small_study.generation_langs).index("de")
    S_all, S_de = np.zeros_like(P), np.zeros_like(P)
    for j in range(len(E)):
        if rank[j] < small_study.n_max:
            S_all[owner[j]] += E[j]
            if lang[j] == de:
                S_de[owner[j]] += E[j]
    Q = np.load(work / "queries-me5-small-xquad-xr" / "Q.npy")
    built = resolve_study(arts)
    passages, queries = built.corpora["xquad-xr"], built.queries["xquad-xr"]
    position = {p.docid: i for i, p in enumerate(passages)}
    for variant, S in (("only-de", S_de), ("without-de", S_all - S_de)):
        _, ranked = search(augment_passages(P, S, 0.01), Q, 100)
        mrr = np.array([next((1 / (r + 1) for r, d in enumerate(ranked[i][:10]) if d in {position[g] for g in q["gold"]}), 0.0)
                        for i, q in enumerate(queries)])
        cell = ablation[(ablation.variant == variant) & (ablation.plm == "me5-small") & (ablation.benchmark == "xquad-xr")
                        & (ablation.alpha == 0.01) & (ablation.metric == "MRR@10")].set_index("lang").value
        assert cell["avg"] == pytest.approx(np.mean([100 * mrr[[q["lang"] == l for q in queries]].mean()
                                                     for l in dict.fromkeys(q["lang"] for q in queries)]), abs=1e-6)


def test_int8_rows_with_scales_round_trip_within_half_a_step():
    from xqg_core.study.index_store import dequantize_rows, quantize_rows

    x = np.random.default_rng(0).normal(size=(3, 50, 16)).astype(np.float32)
    x[1, 7] = 0.0  # an all-zero row (a passage without generated queries) stays zero
    q, scale = quantize_rows(x)
    assert q.dtype == np.int8 and scale.shape == (3, 50)
    back = dequantize_rows(q, scale)
    assert np.all(np.abs(back - x) <= scale[..., None] / 2 + 1e-7) and not back[1, 7].any()


def test_a_schema_4_index_still_reads(small_study, tmp_path):
    """A study exported before schema 5 (the int8 level alone) reads as float32 within half its step."""
    import shutil

    from xqg_core.io import write_json_atomic
    from xqg_core.pipeline.stage_export import manifest_files

    root = tmp_path / "old"
    shutil.copytree(small_study.resolved_output(), root)
    exact = load_artifacts(root).index("me5-small")
    for path in (root / "index").glob("*.level*.safetensors"):
        path.unlink()
    manifest = load_artifacts(root, verify=False).manifest
    write_json_atomic(root / "manifest.json", {**manifest, "schema_version": 4, "files": manifest_files(root)})
    old = load_artifacts(root)
    assert old.index_files("me5-small") == ["index/me5-small.safetensors"]
    first, back = old.tensors("index/me5-small.safetensors"), old.index("me5-small")
    for key in ("P", "S", "Q"):
        step = first[f"{key}.scale"][..., None]
        assert back[key].shape == exact[key].shape and np.all(np.abs(back[key] - exact[key]) <= step / 2 + 1e-5)
        assert np.abs(back[key] - exact[key]).max() > 0  # the residual levels were read before


def test_the_manifest_lists_unsupported_languages(small_study):
    arts = load_artifacts(small_study.output_dir)
    assert arts.manifest["unsupported_languages"] == {"use-m-v3": {"xquad-xr": ["hi", "vi"]}}


def test_centred_sums_lose_less_to_int8_than_raw_sums():
    """The sums of 35 query vectors share a large common direction: per-row int8 scales spent on
    it leave coarse steps for what differs between passages. Stored centred (schema 4), the
    error of <q, S_n(p)> shrinks."""
    from xqg_core.study.index_store import dequantize_rows, quantize_rows

    rng = np.random.default_rng(1)
    common = rng.normal(size=64).astype(np.float32) * 4
    S = (common + rng.normal(size=(2, 300, 64))).astype(np.float32)
    q = rng.normal(size=(50, 64)).astype(np.float32)
    raw = dequantize_rows(*quantize_rows(S))
    mean = S.mean(axis=1)
    centred = dequantize_rows(*quantize_rows(S - mean[:, None])) + mean[:, None]
    err = lambda X: np.abs(np.einsum("qd,npd->nqp", q, X - S)).max()  # noqa: E731
    assert err(centred) < err(raw) / 2


def test_findings_report_the_controls_ablation_and_robustness_of_the_study(small_study, capsys):
    """Every number the findings print is the artifacts': alpha selected on the dev half (by hand
    here), test-half values and differences, the controls, the ablation's pattern."""
    from xqg_core.cli import main
    from xqg_core.explore.findings import diagonal_pattern, findings_markdown
    from xqg_core.explore.tables import ablation_gains

    arts = load_artifacts(small_study.output_dir)
    every, halves = arts.results(None), arts.splits()
    n = arts.n_max
    text = findings_markdown(arts)
    for plm in arts.encoders:
        dev = halves[(halves.split == "dev") & (halves.plm == plm) & (halves.variant == "xqg") & (halves.n == n)
                     & (halves.metric == "R@2kt") & (halves.lang == "avg") & (halves.alpha > 0)].sort_values("alpha")
        chosen = dev.alpha.iloc[int(np.argmax(dev.value.to_numpy()))]
        section = text.split(f"## {plm}\n")[1]
        assert f"Alpha selected on the dev half (best macro R@2kt at n = {n}): **{chosen:g}**" in section
        assert "### pawsx-adv drop" in section

    def row(variant, lang, alpha=0.01, split="test"):
        r = halves[(halves.variant == variant) & (halves.split == split) & (halves.plm == "me5-small")
                   & np.isclose(halves.alpha, alpha) & (halves.n == n) & (halves.lang == lang) & (halves.metric == "R@2kt")]
        return r.iloc[0]
    section = text.split("## me5-small\n")[1].split("### Test half, R@2kt, alpha = 0.01 (")[1]
    header = next(x for x in section.splitlines() if x.startswith("| lang |"))
    columns = [c.strip() for c in header.strip("|").split("|")]
    line = next(x for x in section.splitlines() if x.startswith("| de |"))
    cells = dict(zip(columns, [c.strip() for c in line.strip("|").split("|")]))
    def numbers(cell):  # "+0.42 [-0.10, +0.95]" -> (0.42, -0.1, 0.95)
        return [float(x) for x in cell.replace("[", " ").replace("]", " ").replace(",", " ").split()]
    assert float(cells["baseline"]) == pytest.approx(row("xqg", "de", 0.0).value, abs=0.006)
    delta, low, high = numbers(cells["xQG Δ [95% CI]"])
    assert delta == pytest.approx(row("xqg", "de").value - row("xqg", "de", 0.0).value, abs=0.011)
    assert (low, high) == pytest.approx((row("xqg", "de").ci_low, row("xqg", "de").ci_high), abs=0.006)
    assert numbers(cells["human Δ [95% CI]"])[0] == pytest.approx(row("human", "de").value - row("xqg", "de", 0.0).value,
                                                                   abs=0.011)
    versus = next(x for x in section.splitlines() if x.startswith("| lang |") and "shuffled - xQG" in x)
    line = [x for x in section.splitlines() if x.startswith("| de |")][1]
    cells = dict(zip([c.strip() for c in versus.strip("|").split("|")], [c.strip() for c in line.strip("|").split("|")]))
    assert numbers(cells["shuffled - xQG [95% CI]"])[0] == pytest.approx(
        row("shuffled", "de").value - row("xqg", "de").value, abs=0.011)
    # the ablation's pattern: only-L on questions in L against the other languages, by hand
    alpha = sorted(set(every[every.variant.str.startswith("only-")].alpha))[0]
    gains, _ = ablation_gains(every, "xquad-xr", "me5-small", alpha, "R@2kt")
    same = [gains.loc[f"only-{lang}", lang] for lang in arts.manifest["config"]["generation_langs"]
            if lang in gains.columns]
    assert diagonal_pattern(gains, "only-")[0] == pytest.approx(np.mean(same))
    assert main(["findings", "--artifacts", small_study.output_dir]) == 0
    assert capsys.readouterr().out == text


def test_off_grid_recompute_keeps_the_supported_language_macro(small_study, data_dir):
    """The dashboard's live cell (an off-grid alpha from the shipped index) reports
    ``avg_supported`` over the PLM's own languages, as the grid does: use-m-v3 leaves hi and vi out."""
    from xqg_core.explore.recompute import RetrievalRecompute
    from xqg_core.explore.tables import unsupported_of
    from xqg_core.study.artifacts import resolve_study

    arts = load_artifacts(small_study.output_dir)
    recompute = RetrievalRecompute(arts, resolve_study(arts, data_dir))
    for plm in arts.encoders:
        unsupported = unsupported_of(arts).get(plm, {}).get("xquad-xr", [])
        cell = recompute.evaluate(plm, 0.03, arts.n_max).query("metric == 'MRR@10'").set_index("lang").value
        langs = [lang for lang in cell.index if not lang.startswith("avg")]
        kept = [lang for lang in langs if lang not in unsupported]
        assert cell["avg_supported"] == pytest.approx(np.mean(cell[kept]))
        assert cell["avg"] == pytest.approx(np.mean(cell[langs]))
        if unsupported:  # the two macros differ on this cell, so the check above tells them apart
            assert not np.isclose(np.mean(cell[kept]), np.mean(cell[langs]))
        assert (plm == "use-m-v3") == bool(unsupported) == (set(kept) != set(langs))
    assert unsupported_of(arts)["use-m-v3"]["xquad-xr"] == ["hi", "vi"]
