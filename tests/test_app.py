"""Every page and control of the dashboard, with AppTest, against a miniature study.

Values shown are compared with the artifacts they come from (results.parquet, the stored
outcomes, generated_queries.parquet), not only checked for the absence of exceptions.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from xqg_core.paths import PROJECT_ROOT
from xqg_core.study.artifacts import load_artifacts

APP = str(PROJECT_ROOT / "app.py")


@pytest.fixture
def arts_dir(small_study, data_dir, monkeypatch):
    monkeypatch.setenv("XQG_ARTIFACTS", small_study.output_dir)
    monkeypatch.setenv("XQG_DATA_DIR", str(data_dir))
    st.cache_data.clear()
    st.cache_resource.clear()
    return small_study.output_dir


def open_page(page: str | None = None, **params) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    for k, v in params.items():
        at.query_params[k] = str(v)
    at.run()
    if page:
        at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def results_frame(arts_dir) -> pd.DataFrame:
    """xQG's rows (the pages show those; controls are other variants)."""
    from pathlib import Path

    from xqg_core.study.artifacts import read_results

    return read_results(Path(arts_dir) / "results.parquet")


def value(res, benchmark, plm, alpha, n, lang, metric) -> float:
    row = res[(res.benchmark == benchmark) & (res.plm == plm) & (np.isclose(res.alpha, alpha)) & (res.n == n)
              & (res.lang == lang) & (res.metric == metric)]
    assert len(row) == 1
    return float(row.value.iloc[0])


def test_overview_shows_headline_numbers_and_the_papers(arts_dir):
    res = results_frame(arts_dir)
    at = open_page()
    assert at.title[0].value == "xQG Explorer"
    metrics = {m.label: m for m in at.metric}
    r2 = metrics["xquad-xr macro R@2kt"]
    assert r2.value == f"{value(res, 'xquad-xr', 'me5-small', 0.01, 2, 'avg', 'R@2kt'):.2f}"
    assert f"{value(res, 'xquad-xr', 'me5-small', 0.0, 2, 'avg', 'R@2kt'):.2f}" in r2.delta
    # the headline difference carries its interval and p; colour only where it is significant
    row = res[(res.benchmark == "xquad-xr") & (res.plm == "me5-small") & np.isclose(res.alpha, 0.01) & (res.n == 2)
              & (res.lang == "avg") & (res.metric == "R@2kt")].iloc[0]
    assert f"[{row.ci_low:+.2f}, {row.ci_high:+.2f}]" in r2.delta
    grey = r2.proto.DESCRIPTOR.fields_by_name["color"].enum_type.values_by_name["GRAY"].number
    assert (r2.proto.color == grey) == (row.p_adj >= 0.05)
    drop = metrics["PAWS-X adversarial drop (Acc@1 points, label-0 rows)"]
    assert drop.value == f"{value(res, 'pawsx-adv', 'me5-small', 0.01, 2, 'avg', 'drop'):.2f}"
    paper = [df.value for df in at.dataframe if "avg" in df.value.columns]
    assert paper[0].loc["mBERT xDR + xQG", "avg"] == 46.23 and paper[1].loc["mBERT xDR", "avg"] == 51.84
    assert any("not this study" in h.value for h in at.header)
    # a URL reproduces the view: another encoder and alpha
    at = open_page(plm="use-m-v3", alpha="0.05", n="1")
    r2 = {m.label: m for m in at.metric}["xquad-xr macro R@2kt"]
    assert r2.value == f"{value(res, 'xquad-xr', 'use-m-v3', 0.05, 1, 'avg', 'R@2kt'):.2f}"


def test_results_table_controls_and_url(arts_dir):
    import json

    res = results_frame(arts_dir)
    at = open_page("pages/results.py")
    table = at.dataframe[0].value
    assert table.loc["de", "R@5kt xQG"] == pytest.approx(value(res, "xquad-xr", "me5-small", 0.01, 2, "de", "R@5kt"))
    assert list(table.columns[:2]) == ["R@2kt xQG", "R@2kt Δ"] and len(table.columns) == 10  # fits 1440 px
    full = at.dataframe[1].value  # every column, in the expander
    assert full.loc["avg", "MRR@10 base"] == pytest.approx(value(res, "xquad-xr", "me5-small", 0.0, 2, "avg", "MRR@10"))
    assert len(at.get("plotly_chart")) == 1  # the open view (Test half): the encoder-strength chart only
    assert [t.label for t in at.tabs] == ["Test half", "Curves", "Encoders", "Controls", "Ablation", "Side by side",
                                          "Export"]
    at.session_state["view"] = "Curves"
    at.run()
    assert len(at.get("plotly_chart")) == 2  # alpha and n; other views are not drawn
    curves = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert curves["layout"]["xaxis"]["range"] == [0, 0.05]  # where the effects are; the whole grid a toggle away
    # me5-small supports every language: avg_supported equals avg and is not drawn twice
    names = [t["name"] for t in curves["data"]]
    assert "avg" in names and "avg_supported" not in names
    at.toggle(key="full_alpha").set_value(True).run()
    assert "range" not in json.loads(at.get("plotly_chart")[0].proto.spec)["layout"].get("xaxis", {})
    assert at.query_params["full_alpha"] == "True"
    at.session_state["view"] = "Encoders"
    at.run()
    assert len(at.get("plotly_chart")) == 1 and at.query_params["view"] == "Encoders"
    bars = json.loads(at.get("plotly_chart")[0].proto.spec)["data"]
    per_facet: dict[str, set] = {}
    for trace in bars:
        per_facet.setdefault(trace["xaxis"], set()).update(trace["x"])
    # every facet shows the same languages (no empty "hi" slot beside "hi †"); use-m-v3's hi, vi hatched
    assert len({frozenset(x) for x in per_facet.values()}) == 1 and not any("†" in x for x in per_facet["x"])
    assert {lang for t in bars if t["marker"]["pattern"]["shape"] == "/" for lang in t["x"]} == {"hi", "vi"}
    at.session_state["view"] = "Side by side"
    at.run()
    at.select_slider(key="alpha").set_value(0.05).run()
    at.slider(key="n").set_value(1).run()
    at.selectbox(key="plm").set_value("use-m-v3").run()
    table = at.dataframe[0].value
    assert table.loc["zh", "R@2kt xQG"] == pytest.approx(value(res, "xquad-xr", "use-m-v3", 0.05, 1, "zh", "R@2kt"))
    # use-m-v3 was not trained on hi or vi: marked, and said so
    assert table.loc["hi †", "R@2kt xQG"] == pytest.approx(value(res, "xquad-xr", "use-m-v3", 0.05, 1, "hi", "R@2kt"))
    assert "vi †" in table.index and "de †" not in table.index
    assert any("not trained on (use-m-v3: hi, vi)" in c.value for c in at.caption)
    assert at.query_params["alpha"] == "0.05" and at.query_params["plm"] == "use-m-v3"
    # the side-by-side comparison: A vs B and their difference
    side = next(df.value for df in at.dataframe if "B - A" in df.value.columns)
    assert "B - A" in side.columns and len(side) == 9  # 7 languages, avg, avg_supported
    at.selectbox(key="b_plm").set_value("me5-small").run()
    at.select_slider(key="b_alpha").set_value(0.05).run()
    at.slider(key="b_n").set_value(1).run()
    at.selectbox(key="metric").set_value("MRR@10").run()
    side = next(df.value for df in at.dataframe if "B - A" in df.value.columns)
    b = value(res, "xquad-xr", "me5-small", 0.05, 1, "ar", "MRR@10")
    assert side.loc["ar", "B: me5-small, alpha 0.05, n 1"] == pytest.approx(b)
    assert side.loc["ar", "B - A"] == pytest.approx(b - side.iloc[:, 0]["ar"])
    assert "hi †" not in side.index  # both sides me5-small
    at.selectbox(key="b_plm").set_value("use-m-v3").run()
    side = next(df.value for df in at.dataframe if "B - A" in df.value.columns)
    assert "hi †" in side.index and "de" in side.index  # B is use-m-v3, not trained on hi
    at.session_state["view"] = "Curves"
    at.run()
    assert "MRR@10 vs alpha" in at.get("plotly_chart")[0].proto.spec
    assert at.query_params["b_plm"] == "use-m-v3"  # a closed view's settings stay in the URL
    # another benchmark: the PAWS-X metrics
    at.selectbox(key="benchmark").set_value("pawsx-adv").run()
    assert "drop xQG" in at.dataframe[0].value.columns


def plotly_array(values) -> list:
    """A trace's values as plotly's JSON has them: a list, or a typed array ``{dtype, bdata}`` (base64)."""
    import base64

    if isinstance(values, dict):
        return np.frombuffer(base64.b64decode(values["bdata"]), dtype=values["dtype"]).tolist()
    return list(values)


def test_results_test_half_view_shows_the_dev_selected_alpha_and_intervals(arts_dir):
    """The Test half view: alpha selected on dev (by hand here), each variant's test-half
    difference with its interval and p_adj as stored, the encoder-strength points."""
    import json

    halves = load_artifacts(arts_dir).splits()
    dev = halves[(halves.split == "dev") & (halves.plm == "me5-small") & (halves.variant == "xqg") & (halves.n == 2)
                 & (halves.metric == "R@2kt") & (halves.lang == "avg") & (halves.alpha > 0)].sort_values("alpha")
    chosen = float(dev.alpha.iloc[int(np.argmax(dev.value.to_numpy()))])
    at = open_page("pages/results.py")
    assert any(f"alpha = {chosen:g}** (dev-selected)" in m.value for m in at.markdown)
    over = next(df.value for df in at.dataframe if "xQG Δ [95% CI]" in df.value.columns)

    def test_row(variant, alpha, lang):
        r = halves[(halves.split == "test") & (halves.plm == "me5-small") & (halves.variant == variant)
                   & np.isclose(halves.alpha, alpha) & (halves.n == 2) & (halves.lang == lang) & (halves.metric == "R@2kt")]
        return r.iloc[0]
    for lang in ("de", "avg"):
        cell, base = test_row("xqg", chosen, lang), test_row("xqg", 0.0, lang)
        assert over.loc[lang, "baseline"] == f"{base.value:.2f}"
        assert over.loc[lang, "xQG Δ [95% CI]"] == f"{cell.value - base.value:+.2f} [{cell.ci_low:+.2f}, {cell.ci_high:+.2f}]"
        human = test_row("human", chosen, lang)
        assert over.loc[lang, "human Δ [95% CI]"].startswith(f"{human.value - base.value:+.2f} [")
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    points = {(*t["name"].split(", ", 1), x): y for t in spec["data"]
              for x, y in zip(t["text"], plotly_array(t["y"]))}
    me5 = test_row("xqg", chosen, "avg").value - test_row("xqg", 0.0, "avg").value
    assert points[("me5-small", "xQG, macro", "avg")] == pytest.approx(me5)
    # the upper bound at its own dev-selected alpha
    dev_h = halves[(halves.split == "dev") & (halves.plm == "me5-small") & (halves.variant == "human")
                   & (halves.n == 2) & (halves.metric == "R@2kt") & (halves.lang == "avg") & (halves.alpha > 0)]
    own = float(dev_h.sort_values("alpha").alpha.iloc[int(np.argmax(dev_h.sort_values("alpha").value.to_numpy()))])
    human = test_row("human", own, "avg").value - test_row("xqg", 0.0, "avg").value
    assert points[("me5-small", "human upper bound, macro", "avg")] == pytest.approx(human)
    assert {name for name, *_ in points} == set(load_artifacts(arts_dir).encoders)


def test_findings_page_states_each_claim_with_the_numbers_of_the_halves(arts_dir):
    """Findings: the dev-selected alpha, xQG's and each control's test-half difference with its
    interval and p_adj (recomputed here from splits.parquet), every metric, links to the views."""
    halves = load_artifacts(arts_dir).splits()
    test = halves[(halves.split == "test") & (halves.plm == "me5-small") & (halves.n == 2) & (halves.lang == "avg")]
    dev = halves[(halves.split == "dev") & (halves.plm == "me5-small") & (halves.variant == "xqg") & (halves.n == 2)
                 & (halves.metric == "R@2kt") & (halves.lang == "avg") & (halves.alpha > 0)].sort_values("alpha")
    chosen = float(dev.alpha.iloc[int(np.argmax(dev.value.to_numpy()))])
    at = open_page("pages/findings.py", plm="me5-small")
    text = "\n".join(m.value for m in at.markdown).replace("\\", "")
    assert f"Alpha selected on the dev half (best macro R@2kt at n = 2): **{chosen:g}**" in text

    def row(variant, alpha, metric="R@2kt"):
        return test[(test.variant == variant) & np.isclose(test.alpha, alpha) & (test.metric == metric)].iloc[0]
    base = row("xqg", 0.0)
    for variant, name in (("xqg", "xQG"), ("shuffled", "shuffled"), ("human", "human")):
        cell = row(variant, chosen)
        assert (f"{name}, macro: {cell.value - base.value:+.2f} [{cell.ci_low:+.2f}, {cell.ci_high:+.2f}]"
                in text), variant
    mrr, mrr_base = row("xqg", chosen, "MRR@10"), row("xqg", 0.0, "MRR@10")
    assert f"MRR@10: {mrr.value - mrr_base.value:+.2f} [{mrr.ci_low:+.2f}, {mrr.ci_high:+.2f}]" in text
    links = [el for el in at.get("page_link")]
    assert any("Test half" in el.proto.label for el in links) and any("Ablation" in el.proto.label for el in links)
    assert len(at.get("plotly_chart")) == 1


def test_results_show_the_shuffled_control_and_the_ablation(arts_dir):
    import json

    from xqg_core.study.artifacts import read_results

    rows = read_results(Path(arts_dir) / "results.parquet", variant=None)

    def row(variant, alpha, n, lang, metric="R@2kt"):
        r = rows[(rows.variant == variant) & (rows.benchmark == "xquad-xr") & (rows.plm == "me5-small")
                 & np.isclose(rows.alpha, alpha) & (rows.n == n) & (rows.lang == lang) & (rows.metric == metric)]
        assert len(r) == 1
        return r.iloc[0]

    at = open_page("pages/results.py", view="Controls")  # me5-small, alpha 0.01, n 2, R@2kt
    controls = next(df.value for df in at.dataframe if "xQG - shuffled" in df.value.columns)
    for lang in ("de", "avg"):
        shuffled, xqg, base = row("shuffled", 0.01, 2, lang), row("xqg", 0.01, 2, lang), row("xqg", 0.0, 2, lang)
        assert controls.loc[lang, "shuffled"] == pytest.approx(shuffled.value)
        assert controls.loc[lang, "baseline"] == pytest.approx(base.value)
        assert controls.loc[lang, "xQG vs shuffled p"] == pytest.approx(shuffled.p_vs_xqg)
        assert controls.loc[lang, "xQG - shuffled"].startswith(f"{xqg.value - shuffled.value:+.2f}")
    # the ablation heatmap: gain of only-de / without-de over the baseline per query language
    at.session_state["view"] = "Ablation"
    at.run()
    spec = json.loads(next(c for c in at.get("plotly_chart") if "generation" not in c.proto.spec
                           and "augmented with" in c.proto.spec).proto.spec)
    heat = spec["data"][0]
    for variant in ("only-de", "without-zh"):
        for lang in ("de", "avg"):
            expected = row(variant, 0.01, 2, lang).value - row("xqg", 0.0, 2, lang).value
            assert heat["z"][heat["y"].index(variant)][heat["x"].index(lang)] == pytest.approx(expected)
    at.selectbox(key="ab_versus").set_value("xqg").run()
    spec = json.loads(next(c for c in at.get("plotly_chart") if "augmented with" in c.proto.spec).proto.spec)
    heat = spec["data"][0]
    expected = row("only-ar", 0.01, 2, "ar").value - row("xqg", 0.01, 2, "ar").value
    assert heat["z"][heat["y"].index("only-ar")][heat["x"].index("ar")] == pytest.approx(expected)
    assert heat["customdata"][heat["y"].index("only-ar")][heat["x"].index("ar")] == pytest.approx(
        row("only-ar", 0.01, 2, "ar").p_vs_xqg)
    assert at.query_params["ab_versus"] == "xqg"
    # the export view builds every table of the page, the closed views' included
    at.session_state["view"] = "Export"
    at.run()
    ids = " ".join(b.proto.id for b in at.get("download_button"))  # widget ids end with their keys
    for key in ("csv-xquad-xr-me5-small-a0.01-n2", "tex-xquad-xr-me5-small-R@2kt-vs-alpha",
                "csv-xquad-xr-me5-small-R@2kt-controls-a0.01-n2", "csv-xquad-xr-me5-small-R@2kt-ablation-a0.01",
                "report-md"):
        assert key in ids, (key, ids)
    assert at.query_params["ab_versus"] == "xqg"  # the ablation's setting survives its view being closed


def test_results_exact_alpha_is_recomputed_live(arts_dir):
    res = results_frame(arts_dir)
    at = open_page("pages/results.py")
    at.text_input(key="exact").input("0.05").run()
    assert not at.exception
    assert "recomputed live" in " ".join(c.value for c in at.caption)
    table = at.dataframe[0].value
    # the float16 index reproduces the grid's float32 cell up to near-ties
    grid = value(res, "xquad-xr", "me5-small", 0.05, 2, "avg", "R@5kt")
    assert table.loc["avg", "R@5kt xQG"] == pytest.approx(grid, abs=2.0)
    at.text_input(key="exact").input("0.013").run()
    assert "alpha = 0.013" in at.subheader[0].value
    at.text_input(key="exact").input("two").run()
    assert any("not an alpha" in w.value for w in at.warning)


def test_robustness_table_and_flips(arts_dir):
    res = results_frame(arts_dir)
    at = open_page("pages/robustness.py", alpha="0.05", n="2")
    table = at.dataframe[0].value
    for lang, metric in (("de", "clean_acc1"), ("avg", "drop"), ("ja", "win_rate")):
        assert table.loc[lang, f"{metric} xQG"] == pytest.approx(value(res, "pawsx-adv", "me5-small", 0.05, 2, lang, metric))
    arts = load_artifacts(arts_dir)
    adv = arts.outcomes("pawsx-adv", "me5-small")["adversarial"]
    ai = arts.alphas.index(0.05)
    flipped = int(np.sum(adv[0, 1] != adv[ai, 1]))
    caption = " ".join(c.value for c in at.caption)
    fixed = int(np.sum(adv[ai, 1] > adv[0, 1]))
    assert f"{fixed} items fixed and {flipped - fixed} broken" in caption
    flips = lambda: next(df.value for df in at.dataframe if "query" in df.value.columns)  # noqa: E731
    if flipped:
        shown = flips()
        assert {"query", "gold", "twin", "s(q,gold) xQG"} <= set(shown.columns) and len(shown) == fixed
        if fixed:  # the gold's and the twin's generated queries of the first item, with their contributions
            generated = arts.table("generated_queries.parquet")
            sides = [df.value for df in at.dataframe if "<q, e>" in df.value.columns]
            assert len(sides) == 2
            gold = generated[(generated.corpus == "pawsx-test") & (generated.passage_id == shown["gold docid"].iloc[0])
                             & (generated.i < 2)]
            assert sorted(sides[0].text) == sorted(gold.text)
        at.selectbox(key="direction").set_value("broken by xQG").run()
        assert len(flips()) == flipped - fixed
        at.selectbox(key="flip_lang").set_value(at.selectbox(key="flip_lang").options[-1]).run()
        assert not at.exception
    # every figure has its PNG and SVG buttons; a file is drawn when its button is clicked
    labels = [b.proto.label for b in at.get("download_button")]
    if Path("/usr/bin/chromium").exists():
        assert "pawsx-drop-vs-alpha.png" in labels and "pawsx-acc-vs-alpha.svg" in labels, labels
    else:  # no browser for kaleido: a message, not a traceback
        assert any("Figure export needs kaleido and a Chromium browser" in w.value for w in at.warning)


@pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="kaleido draws with Debian's chromium")
def test_an_exported_figure_keeps_one_colour_per_language():
    """The SVG a download writes holds each language's own colour (not plotly's black default)."""
    import re

    from pages.exports import figure_image
    from xqg_core.explore.charts import LANG_COLOURS, line_figure

    langs = ["ar", "de", "es", "hi", "ru", "vi", "zh", "avg"]
    frame = pd.DataFrame({"alpha": [0.0, 0.01] * len(langs), "value": np.arange(2 * len(langs), dtype=float),
                          "lang": [lang for lang in langs for _ in range(2)]})
    svg = figure_image(line_figure(frame, "alpha", "value", "R@2kt vs alpha", color="lang"), "svg").decode()
    strokes = set(re.findall(r"stroke: ?rgb\((\d+), ?(\d+), ?(\d+)\)", svg))
    for lang in langs:
        hex_colour = LANG_COLOURS[lang].lstrip("#")
        assert tuple(str(int(hex_colour[i:i + 2], 16)) for i in (0, 2, 4)) in strokes, lang


def test_embedding_shift_page(arts_dir):
    from xqg_core.explore.shift import cosine_displacement

    arts = load_artifacts(arts_dir)
    at = open_page("pages/embedding_shift.py")
    charts = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    assert len(charts) == 3  # the map, the displacement distribution, the zoom
    # arrows drawn 10x their length, heads at the tips
    arrows = next(t for t in charts[0]["data"] if t.get("mode") == "lines+markers")
    assert arrows["marker"]["symbol"] == "arrow" and "x10" in charts[0]["layout"]["title"]["text"]
    assert charts[0]["layout"]["legend"]["orientation"] == "h"  # below the map, not cut at its right edge
    # the distribution: every passage's 1 - cos(p, p') from the shipped index
    idx = arts.index("me5-small")
    umap = arts.manifest["config"]["umap"]
    moved = cosine_displacement(idx["P"], idx["S"][umap["n"] - 1], umap["alphas"][0])
    shown = np.concatenate([plotly_array(t["x"]) for t in charts[1]["data"]])
    assert sorted(shown) == pytest.approx(sorted(moved))
    queries = at.dataframe[0].value
    gq = pd.read_parquet(f"{arts_dir}/generated_queries.parquet")
    first = pd.read_parquet(f"{arts_dir}/corpora/xquad-xr.parquet").docid.iloc[0]
    expected = gq[(gq.corpus == "xquad-xr") & (gq.passage_id == first)]
    assert list(queries.text) == list(expected.text)
    neighbours = at.dataframe[1].value
    assert first not in set(neighbours.docid) and 5 <= len(neighbours) <= 10
    assert set(neighbours.change) <= {"new", "left", "same"} | {f"{d} {k}" for d in ("up", "down") for k in range(1, 5)}
    assert (neighbours["rank before"] != "-").sum() == 5 and (neighbours["rank after"] != "-").sum() == 5
    at.selectbox(key="passage").set_value(2).run()
    third = pd.read_parquet(f"{arts_dir}/corpora/xquad-xr.parquet").docid.iloc[2]
    assert list(at.dataframe[0].value.text) == list(gq[(gq.corpus == "xquad-xr") & (gq.passage_id == third)].text)
    assert third in json.loads(at.get("plotly_chart")[2].proto.spec)["layout"]["title"]["text"]
    at.select_slider(key="umap_alpha").set_value(0.05).run()
    at.select_slider(key="arrow_scale").set_value(1).run()
    at.selectbox(key="colour").set_value("topic").run()
    at.checkbox(key="show_queries").check().run()
    assert not at.exception
    names = {t.get("name") for t in json.loads(at.get("plotly_chart")[0].proto.spec)["data"]}
    assert "XQuAD" in names and any(str(name).startswith("Vital: ") for name in names)  # the shipped topics
    assert at.query_params["colour"] == "topic" and at.query_params["arrow_scale"] == "1"


def test_live_search_answers_and_rejects(arts_dir):
    at = open_page("pages/live_search.py", q="Who won Super Bowl 50?", k="5")
    assert not at.exception
    assert "passages" in at.dataframe[0].value.columns  # what the corpus holds comes first
    xqg, base = at.dataframe[1].value, at.dataframe[2].value
    assert len(xqg) == 5 and len(base) == 5
    assert xqg.score.is_monotonic_decreasing and base.score.is_monotonic_decreasing
    assert "Detected language: en" in " ".join(c.value for c in at.caption)
    at.selectbox(key="hit").set_value(at.selectbox(key="hit").options[2]).run()
    gq = pd.read_parquet(f"{arts_dir}/generated_queries.parquet")
    third_hit = at.dataframe[1].value.docid.iloc[2]
    assert list(at.dataframe[3].value.text) == list(gq[(gq.corpus == "xquad-xr") & (gq.passage_id == third_hit)].text)
    # the hit in full, as plain text: its title and whole passage
    hit = xqg.iloc[2]
    assert any(t.value.startswith(f"xQG rank 3 · {hit.docid} · {hit.title}") and hit.passage in t.value for t in at.text)
    # a baseline hit too
    at.selectbox(key="hit").set_value(at.selectbox(key="hit").options[5]).run()
    assert any(t.value.startswith(f"baseline rank 1 · {base.docid.iloc[0]}") for t in at.text)
    # a new query: the picker names one of the new hits, and the table shows that hit's queries
    at.text_input(key="q").input("Wie heißt die Hauptstadt von Frankreich?").run()
    hits = at.dataframe[1].value
    picked = at.selectbox(key="hit").value
    assert picked in [f"xQG #{r} {d}" for r, d in zip(hits["rank"], hits.docid)]
    shown = picked.rsplit(" ", 1)[1]
    assert list(at.dataframe[3].value.text) == list(gq[(gq.corpus == "xquad-xr") & (gq.passage_id == shown)].text)
    # with alpha = 0 the augmented list is the baseline list
    at.select_slider(key="alpha").set_value(0.0).run()
    assert list(at.dataframe[1].value.docid) == list(at.dataframe[2].value.docid)
    for text, message in (("", "Type a query"), ("x" * 600, "at most 500"), ("🙂 123 !!", "no letters")):
        at.text_input(key="q").input(text).run()
        assert not at.exception
        assert any(message in i.value for i in at.info), text
    # an example query fills the box
    at.selectbox(key="example").set_value(1).run()
    assert at.text_input(key="q").value
    assert len(at.dataframe[1].value) == 5
    # typing over it: the picker no longer names the example
    at.text_input(key="q").input("Where is the Eiffel Tower?").run()
    assert at.selectbox(key="example").value == 0 and at.text_input(key="q").value == "Where is the Eiffel Tower?"


def test_missing_or_corrupt_artifacts_say_how_to_rebuild(small_study, tmp_path, monkeypatch):
    monkeypatch.setenv("XQG_ARTIFACTS", str(tmp_path / "empty"))
    st.cache_resource.clear()
    for page in (None, "pages/results.py", "pages/live_search.py"):
        at = AppTest.from_file(APP, default_timeout=60).run()
        if page:
            at.switch_page(page).run()
        assert not at.exception
        assert "no artifacts here" in at.error[0].value
        assert any("precompute --config configs/default.yaml" in c.value for c in at.code)
    broken = tmp_path / "broken"
    shutil.copytree(small_study.output_dir, broken)
    (broken / "umap.parquet").write_bytes(b"not parquet")
    monkeypatch.setenv("XQG_ARTIFACTS", str(broken))
    st.cache_resource.clear()
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert "checksum differs" in at.error[0].value


def test_status_page_shows_encoders_and_datasets(data_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("XQG_CACHE", str(tmp_path))  # an empty cache: nothing trained or converted yet
    monkeypatch.setenv("XQG_DATA_DIR", str(data_dir))
    st.cache_data.clear()
    at = open_page("pages/status.py", data_dir="/etc")  # a path in the URL is never read
    assert at.title[0].value == "Installation"
    encoders = at.dataframe[0].value
    rows = dict(zip(encoders["Name"], encoders["Available"]))
    assert rows["me5-small"] == "yes" and rows["use-m-v3"] == "yes" and rows["mbert-xdr"] == "no"
    generators = dict(zip(at.dataframe[1].value["Name"], at.dataframe[1].value["Available"]))
    from xqg_core.paths import SHIPPED_GENERATOR_DIR

    shipped = (SHIPPED_GENERATOR_DIR / "model.safetensors").is_file()  # a fresh clone generates without training
    assert generators == {"me5-qg": "yes" if shipped else "no", "xqg-mt5": "no"}
    datasets = at.dataframe[2].value
    found = dict(zip(datasets["Name"], datasets["Found"]))
    assert found["xquad"] == "yes" and found["pawsx"] == "yes" and found["xor_tydi"] == "yes"
    assert str(data_dir) in at.caption[0].value


def test_a_fresh_clone_shows_every_text_without_a_data_directory(small_study, data_dir, tmp_path, monkeypatch):
    """The texts ship in texts/: with no data directory, Live search, Embedding shift and the
    PAWS-X flips show the real passages and sentences (compared with the official files)."""
    from xqg_core.study.inputs import build_study_inputs

    monkeypatch.setenv("XQG_ARTIFACTS", small_study.output_dir)
    monkeypatch.setenv("XQG_DATA_DIR", str(tmp_path / "no-data-here"))
    st.cache_data.clear()
    st.cache_resource.clear()
    official = build_study_inputs(small_study, data_dir, with_pairs=False)
    by_docid = {p.docid: p for p in official.corpora["xquad-xr"]}

    at = open_page("pages/live_search.py", q="Who won Super Bowl 50?", k="5")
    hits = at.dataframe[1].value  # after the corpus coverage table
    assert not at.warning and hits.title.str.len().gt(0).all()
    for docid, title, text in zip(hits.docid, hits.title, hits.passage):
        assert (title, text) == (by_docid[docid].title, by_docid[docid].text)
    assert len(at.selectbox(key="example").options) > 1  # the example picker is there

    at = open_page("pages/embedding_shift.py")
    first = official.corpora["xquad-xr"][0]
    assert first.contents in [t.value for t in at.text]
    assert at.dataframe[1].value["title"].str.len().gt(0).all()

    at = open_page("pages/robustness.py", alpha="0.05", n="2")
    flips = next((df.value for df in at.dataframe if "query" in df.value.columns), None)
    if flips is not None and len(flips):
        pool = {p.text for p in official.corpora["pawsx-test"]}
        assert set(flips.gold) <= pool and set(flips.twin) <= pool
        queries = {q["text"] for q in official.queries["pawsx-adv"]}
        assert set(flips["query"]) <= queries


def test_shipped_texts_carry_their_attribution(small_study):
    import pyarrow.parquet as pq

    arts = load_artifacts(small_study.output_dir)
    assert {"texts/passages.parquet", "texts/queries.parquet", "texts/examples.parquet"} <= set(arts.manifest["files"])
    meta = pq.read_schema(f"{small_study.output_dir}/texts/passages.parquet").metadata
    import json

    attribution = json.loads(meta[b"attribution"])
    assert {"xquad", "vital-articles", "pawsx"} <= set(attribution)
    assert attribution["xquad"]["license"] == "CC BY-SA 4.0" and "100 words" in attribution["xquad"]["changes"]


@pytest.mark.parametrize("damage, message", [
    (lambda m: m.update(files=list(m["files"])), "field 'files' is a list, not a dict"),
    (lambda m: m["config"].pop("encoders"), "field 'config.encoders' missing"),
    (lambda m: m["config"].update(alphas="0.1"), "field 'config.alphas': expected a list"),
    (lambda m: m["files"].update({"../outside.txt": {"sha1": "x", "bytes": 1}}), "not a path inside the artifacts"),
    (lambda m: m["files"].update({"results.parquet": "abc"}), "needs sha1 \\(text\\) and bytes"),
    (lambda m: m.pop("significance"), "field 'significance' missing"),
    # edited consistently (the files' checksums hold): the grid no longer matches the arrays
    (lambda m: m["config"].update(n_max=m["config"]["n_max"] + 3), r"over \d+ alphas x n = 1\.\.\d+, the config"),
    (lambda m: m["config"].update(alphas=[*m["config"]["alphas"], 0.9]), r"the config \d+ alphas"),
    (lambda m: m["config"]["umap"].update(alphas=[0.3]), r"config\.umap\.alphas \[0\.3\] are not the projection's"),
    (lambda m: m["config"].update(encoders=[*m["config"]["encoders"], "mbert"]), "names 'mbert', which has no outcomes"),
])
def test_a_malformed_manifest_gets_the_rebuild_page(small_study, tmp_path, monkeypatch, damage, message):
    import json
    import re

    broken = tmp_path / "broken"
    shutil.copytree(small_study.output_dir, broken)
    manifest = json.loads((broken / "manifest.json").read_text(encoding="utf-8"))
    damage(manifest)
    (broken / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    monkeypatch.setenv("XQG_ARTIFACTS", str(broken))
    st.cache_resource.clear()
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    shown = re.sub(r"\\(.)", r"\1", at.error[0].value)  # the message is escaped: shown as typed
    assert re.search(message, shown), shown
    assert any("precompute --config configs/default.yaml" in c.value for c in at.code)


def test_overview_says_when_the_checkout_is_past_the_build(small_study, tmp_path, monkeypatch):
    import json
    import subprocess

    from xqg_core.paths import PROJECT_ROOT
    from xqg_core.study.artifacts import STUDY_CODE_PATHS

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=PROJECT_ROOT, capture_output=True, text=True).stdout.strip()

    # the last commit that changed what computes a study, and the one before it
    last = git("log", "-n", "1", "--format=%H", "--", *STUDY_CODE_PATHS)
    older = git("rev-parse", f"{last}~1") if last else ""
    if not older:
        pytest.skip("no git history in this checkout")
    copy = tmp_path / "arts"
    shutil.copytree(small_study.output_dir, copy)
    manifest = json.loads((copy / "manifest.json").read_text(encoding="utf-8"))

    def overview_with(code_version: str) -> list[str]:
        manifest["code_version"] = code_version
        (copy / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
        monkeypatch.setenv("XQG_ARTIFACTS", str(copy))
        st.cache_resource.clear()
        st.cache_data.clear()
        return [m.value for m in open_page().markdown]

    ahead = int(git("rev-list", "--count", f"{older}..HEAD", "--", *STUDY_CODE_PATHS))
    plural = "s" if ahead > 1 else ""
    assert any(f"**This checkout** has {ahead} commit{plural} past that code" in m for m in overview_with(older))
    # commits that only touch docs, the dashboard or the tests raise no alarm
    assert not any("**This checkout**" in m for m in overview_with(last))


def test_why_did_it_move_shows_ranks_and_the_gold_passages_queries(arts_dir):
    from xqg_core.explore.live import rank_positions

    arts = load_artifacts(arts_dir)
    at = open_page("pages/why_moved.py", alpha="0.05", n="2", why_change="all")
    assert not at.exception
    idx = arts.index("me5-small")
    queries = arts.table("queries/xquad-xr.parquet")
    qid = at.selectbox(key="question").value
    qi = queries.id.tolist().index(qid)
    moved = next(df.value for df in at.dataframe if "baseline score" in df.value.columns).set_index("docid")
    docids = arts.table("corpora/xquad-xr.parquet").docid.tolist()
    gold = docids.index(list(queries.gold[qi])[0])
    base = idx["P"] @ idx["Q"][qi]
    aug = 0.95 * base + 0.05 * (idx["S"][1] @ idx["Q"][qi])
    assert moved.loc[docids[gold], "baseline rank"] == rank_positions(base)[gold]
    assert moved.loc[docids[gold], "xQG rank"] == rank_positions(aug)[gold]
    # the gold passage's generated queries (n = 2 per language), most similar first; their
    # contributions add up to alpha <q, S_n(gold)> of the shipped index
    shown = next(df.value for df in at.dataframe if "<q, e>" in df.value.columns)
    generated = arts.table("generated_queries.parquet")
    mine = generated[(generated.corpus == "xquad-xr") & (generated.passage_id == docids[gold]) & (generated.i < 2)]
    assert sorted(shown.text) == sorted(mine.text)
    assert list(shown["<q, e>"]) == sorted(shown["<q, e>"], reverse=True)
    assert shown["alpha <q, e>"].sum() == pytest.approx(0.05 * float(idx["S"][1][gold] @ idx["Q"][qi]), abs=0.01)
    assert at.query_params["question"] == qid
    # filters: questions whose R@2kt was lost
    at.selectbox(key="why_change").set_value("lost").run()
    assert not at.exception


def test_why_did_it_move_names_the_passages_that_carried_the_answer(arts_dir):
    """For every question whose R@2kt changed, the page names the passages holding an answer
    inside either window, with ranks recomputed here from the index and the official rule; a
    question whose gold passage moved against the outcome is explained through another passage."""
    from xqg_core.explore.live import rank_positions
    from xqg_core.explore.recompute import question_changes
    from xqg_core.retrieval.evaluate import TokenCache, recall_at_k_tokens
    from xqg_core.study.artifacts import resolve_study

    arts = load_artifacts(arts_dir)
    cells = [(plm, a, n) for plm in arts.encoders for a in arts.alphas[1:] for n in (1, 2)]
    found = ((plm, a, n, question_changes(arts, plm, a, n)) for plm, a, n in cells)
    plm, alpha, n, changes = next((c for c in found if c[3].change.isin(["gained", "lost"]).any()), (None,) * 4)
    assert plm is not None, "the miniature study changes no question's R@2kt"
    changed = changes[changes.change.isin(["gained", "lost"])]
    study = resolve_study(arts, None)
    texts = [p.text for p in study.corpora["xquad-xr"]]
    docids = arts.table("corpora/xquad-xr.parquet").docid.tolist()
    idx = arts.index(plm)
    at = open_page("pages/why_moved.py", plm=plm, alpha=f"{alpha:g}", n=str(n), why_change="all")
    for qid, change in zip(changed.id[:6], changed.change[:6]):
        at.selectbox(key="question").set_value(qid).run()
        assert not at.exception
        qi = changes.id.tolist().index(qid)
        question = study.queries["xquad-xr"][qi]
        scores = [idx["P"] @ idx["Q"][qi], (1 - alpha) * (idx["P"] @ idx["Q"][qi]) + alpha * (idx["S"][n - 1] @ idx["Q"][qi])]
        ranks = [rank_positions(s) for s in scores]
        windows = []
        for s in scores:
            order = np.argsort(-s, kind="stable")[:100]
            assert recall_at_k_tokens([texts[d] for d in order], question["answers"], 2000, TokenCache()) == (
                change == ("lost" if s is scores[0] else "gained"))
            tokens, carriers = 0, []
            for d in order:  # the passages whose part inside the window holds an answer
                part = TokenCache()(texts[d])[: 2000 - tokens]
                if any(a in " ".join(part) for a in question["answers"]):
                    carriers.append(d)
                tokens += len(part)
                if tokens >= 2000:
                    break
            windows.append(carriers)
        table = next(df.value for df in at.dataframe if "baseline window" in df.value.columns).set_index("docid")
        expected = list(dict.fromkeys(windows[0] + windows[1]))
        assert table.index.tolist() == [docids[d] for d in expected]
        for d in expected:
            assert table.loc[docids[d], "baseline rank"] == ranks[0][d] and table.loc[docids[d], "xQG rank"] == ranks[1][d]
        why = [t.value for t in at.text if t.value.startswith(("Lost:", "Gained:"))]
        assert why and why[0].startswith("Lost:" if change == "lost" else "Gained:")
        gold = docids.index(question["gold"][0])
        if (ranks[1][gold] < ranks[0][gold]) == (change == "lost"):
            assert any(d != gold for d in expected)  # another passage carried the answer
        assert any("⟦" in t.value for t in at.text)  # the answer marked in plain text


def test_live_search_says_what_the_corpus_holds_and_finds_titles(arts_dir):
    arts = load_artifacts(arts_dir)
    at = open_page("pages/live_search.py")
    coverage = at.dataframe[0].value
    docids = arts.table("corpora/xquad-xr.parquet").docid
    assert coverage.passages.sum() == len(docids)
    vital = coverage[coverage.source == "Vital Articles"]
    assert vital.passages.sum() == docids.str.startswith("vital-").sum() and set(vital.topic) <= {
        "People", "Biology and health sciences", "Geography", "Uncategorized", "Physical sciences",
        "Society and social sciences", "Arts", "Technology", "History", "Everyday life", "Philosophy and religion",
        "Mathematics"}
    texts = pd.read_parquet(Path(arts_dir) / "texts" / "passages.parquet")
    title = texts[texts.docid.str.startswith("vital-")].title.iloc[0]
    at.text_input(key="title").input(title.upper().replace(" ", "_")).run()
    found = at.dataframe[1].value
    assert found.title.iloc[0] == title and found.source.iloc[0] == "Vital Articles"
    assert found.passages.iloc[0] == (texts[texts.corpus == "xquad-xr"].title == title).sum()
    at.text_input(key="title").input("Zzyzx Nonexistent").run()
    assert any("does not hold it" in i.value for i in at.info)


def test_your_questions_evaluates_an_upload_like_the_command_line(arts_dir, data_dir):
    import json

    from xqg_core.explore.evaluate_queries import evaluate_query_set, read_query_file
    from xqg_core.models.encoders import load_encoder
    from xqg_core.study.artifacts import resolve_study

    arts = load_artifacts(arts_dir)
    ids = {i.rsplit("-", 1)[0] for i in arts.table("queries/xquad-xr.parquet").id}
    doc = json.loads((data_dir / "xquad" / "xquad.de.json").read_text(encoding="utf-8"))
    doc["data"] = [{**a, "paragraphs": [{**p, "qas": [q for q in p["qas"] if q["id"] in ids]}
                                        for p in a["paragraphs"] if any(q["id"] in ids for q in p["qas"])]}
                   for a in doc["data"]]
    doc["data"] = [a for a in doc["data"] if a["paragraphs"]]
    content = json.dumps(doc, ensure_ascii=False).encode("utf-8")
    at = open_page("pages/your_questions.py", yq_lang="de", n="2", alpha="0.05")
    at.file_uploader(key="upload").upload("mine.json", content, "application/json").run()
    assert not at.exception, at.exception
    table = at.dataframe[0].value
    path = Path(arts_dir).parent / "mine.json"
    path.write_bytes(content)
    study = resolve_study(arts)
    expected = evaluate_query_set(arts, study, "me5-small", load_encoder("me5-small", device="cpu"),
                                  read_query_file(path, "de", study), "de", [0.05], 2)
    rows = pd.DataFrame(expected["rows"]).set_index(["alpha", "metric"]).value
    for metric in ("R@2kt", "MRR@10"):
        assert table.loc[metric, "baseline"] == pytest.approx(rows[(0.0, metric)])
        assert table.loc[metric, "xQG"] == pytest.approx(rows[(0.05, metric)])
    assert at.subheader[0].value.startswith(r"mine\.json: ") and f"{len(ids)} questions in de" in at.subheader[0].value
    # per question: the same outcomes as the command line's, exportable
    per_question = next(df.value for df in at.dataframe if "R@2kt change" in df.value.columns)
    detail = evaluate_query_set(arts, study, "me5-small", load_encoder("me5-small", device="cpu"),
                                read_query_file(path, "de", study), "de", [0.05], 2, per_question=True)
    assert len(per_question) == len(ids)
    assert list(per_question["R@2kt xQG"].fillna(-1)) == [-1 if v is None else v for v in detail["outcomes"]["R@2kt"][1]]
    # any language code is accepted, and a file that reads as another language is flagged
    at.text_input(key="yq_lang").input("ro").run()
    assert not at.exception and f"{len(ids)} questions in ro" in at.subheader[0].value
    assert any("read as 'de' (langid), not 'ro'" in w.value.replace('\\', '') for w in at.warning)
    at.text_input(key="yq_lang").input("de").run()
    # a bad file: one line naming the upload, no traceback
    at.file_uploader(key="upload").set_value(("broken.jsonl", b"not json at all\n", "application/json")).run()
    assert not at.exception
    assert any(e.value.startswith(r"broken\.jsonl: cannot be evaluated") and "line 1" in e.value for e in at.error)
    # over the page's caps: said, with the command line that takes more, and nothing evaluated
    import xqg_core.explore.evaluate_queries as evaluate_queries

    many = "".join(json.dumps({"id": f"q{i}", "question": f"Frage {i}?", "answers": ["x"], "lang": "de"}) + "\n"
                   for i in range(evaluate_queries.MAX_UPLOAD_QUESTIONS + 1)).encode("utf-8")
    at.file_uploader(key="upload").set_value(("many.jsonl", many, "application/json")).run()
    assert any("5,001 questions in de" in e.value and r"evaluate\-queries" in e.value for e in at.error)
    big = b" " * (evaluate_queries.MAX_UPLOAD_BYTES + 1)
    at.file_uploader(key="upload").set_value(("big.jsonl", big, "application/json")).run()
    assert any(e.value.startswith(r"big\.jsonl is 10.0 MB") and "evaluate-queries" in e.value for e in at.error)


def test_your_passage_says_when_a_passage_is_too_long(arts_dir):
    from xqg_core.explore.own_passage import MAX_PASSAGE_CHARS

    at = open_page("pages/your_passage.py")
    at.text_area(key="own_text").input("word " * (MAX_PASSAGE_CHARS // 5 + 1))
    at.button(key="generate").click().run()
    assert not at.exception
    assert any(f"{MAX_PASSAGE_CHARS + 5:,} characters; at most {MAX_PASSAGE_CHARS:,}" in w.value for w in at.warning)
    assert "own_passage" not in at.session_state


def test_your_passage_generates_queries_and_ranks_it(arts_dir):
    from xqg_core.explore.own_passage import rank_among
    from xqg_core.models.encoders import load_encoder

    arts = load_artifacts(arts_dir)
    at = open_page("pages/your_passage.py", alpha="0.05", n="2")
    at.text_input(key="own_title").input("Danube")
    at.text_area(key="own_text").input("The Danube is the second-longest river in Europe. It flows through Vienna, "
                                       "Budapest and Belgrade before reaching the Black Sea.")
    at.button(key="generate").click().run()
    assert not at.exception, at.exception
    queries = at.dataframe[0].value
    assert len(queries) == 2 * 7 and set(queries.lang) == {"ar", "de", "es", "hi", "ru", "vi", "zh"}
    assert queries.text.str.len().gt(0).all() and queries["rank"].between(1, len(arts.index("me5-small")["P"]) + 1).all()
    at.text_input(key="own_query").input("Wie lang ist die Donau?").run()
    assert not at.exception
    before, after = (int(m.value) for m in at.metric)
    idx = arts.index("me5-small")
    enc = load_encoder("me5-small", device="cpu")
    q = enc.encode_queries(["Wie lang ist die Donau?"])[0]
    p = enc.encode_passages(["Danube The Danube is the second-longest river in Europe. It flows through Vienna, "
                             "Budapest and Belgrade before reaching the Black Sea."])[0]
    assert before == rank_among(p, idx["P"], q)
    E = enc.encode_queries(queries[queries.i < 2].text.tolist())
    assert after == rank_among(0.95 * p + 0.05 * E.sum(0), 0.95 * idx["P"] + 0.05 * idx["S"][1], q)



def test_your_passage_offers_xquad_examples_and_exports_before_a_query(arts_dir):
    from xqg_core.study.artifacts import resolve_study

    study = resolve_study(load_artifacts(arts_dir), None)
    first = next(p for p in study.corpora["xquad-xr"] if p.docid.startswith("xquad-"))
    at = open_page("pages/your_passage.py")
    picker = at.selectbox(key="own_example")
    articles = {p.title for p in study.corpora["xquad-xr"] if p.docid.startswith("xquad-")}
    assert len(picker.options) == len(articles) + 1
    picker.set_value(1).run()
    assert at.text_input(key="own_title").value == first.title.replace("_", " ")
    assert at.text_area(key="own_text").value == first.text
    at.button(key="generate").click().run()
    assert not at.exception
    assert any("your-passage-queries" in b.proto.id for b in at.get("download_button"))  # no query typed yet


PAYLOAD = "**bold** _em_ [a link](http://evil.example/x) ![an image](http://evil.example/i.png) <b>tag</b> # head"


def markdown_sources(at: AppTest) -> list[str]:
    """The source of every Markdown-rendering element of the page."""
    return [e.value for e in (*at.markdown, *at.caption, *at.info, *at.warning, *at.error, *at.success,
                              *at.subheader, *at.header, *at.title)]


@pytest.mark.parametrize("page, params", [("pages/results.py", {"exact": PAYLOAD}),
                                          ("pages/live_search.py", {"title": PAYLOAD, "q": PAYLOAD})])
def test_url_values_are_shown_as_plain_text(arts_dir, page, params):
    """A URL's values never format the page: rendered as Markdown, nothing of the payload
    becomes emphasis, a link, an image, a tag or a heading (nor a bare-URL autolink)."""
    from markdown_it import MarkdownIt

    at = open_page(page, **params)
    sources = markdown_sources(at)
    html = [MarkdownIt("commonmark").render(s) for s in sources]
    assert any("bold" in h for h in html)  # the payload is shown ...
    for h in html:  # ... as the characters it is
        for formatted in ("<strong>bold", "<em>em", 'href="http://evil', "<img", "<b>tag</b>", "<h1>head"):
            assert formatted not in h, h
    assert not [s for s in sources if "http://evil" in s]  # GFM would autolink it
