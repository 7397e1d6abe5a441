"""Results: per-language metrics, baseline vs xQG, with significance; curves over alpha and n;
PLM comparison; two configurations side by side; exports."""
from __future__ import annotations

import pandas as pd
import plotly.express as px
import streamlit as st

from pages import derived, exports, ui
from xqg_core.explore import charts
from xqg_core.explore.evidence import has_halves
from xqg_core.explore.recompute import RetrievalRecompute
from xqg_core.explore.tables import (
    BENCHMARK_METRICS,
    SIGNIFICANCE_LEVEL,
    ablation_alphas,
    ablation_gains,
    alpha_curve,
    cell_frame,
    comparison_table,
    controls_table,
    mark_unsupported,
    n_curve,
    nearest_alpha,
    plm_comparison,
    unsupported_of,
)
from xqg_core.paper import PAPER_ALPHA
from xqg_core.study.artifacts import index_storage

st.title("Results")
arts = ui.artifacts()
res = ui.results_of(arts)
present = set(res.benchmark.unique())
benchmarks = [b for b in ("xquad-xr", "pawsx-adv", "xor-retrieve") if b in present]
c = ui.cell_controls(arts, benchmarks)
bench, plm, n = c["benchmark"], c["plm"], c["n"]
metrics = list(BENCHMARK_METRICS[bench])
metric = ui.select("Metric for the charts", "metric", metrics)
keys = [*c["keys"], "metric"]

alpha, source = c["alpha"], "grid"
base = cell_frame(res, bench, plm, 0.0, n)
cell = cell_frame(res, bench, plm, alpha, n)
if c["exact"] is not None:
    if bench != "xquad-xr":
        st.sidebar.info("Off-grid alpha is recomputed for xquad-xr only (its index ships); using the grid value.")
    else:
        study = ui.study(arts)
        if study is not None:
            alpha = c["exact"]

            @st.cache_resource(show_spinner="Preparing the live evaluation ...")
            def recompute(root: str) -> RetrievalRecompute:
                return RetrievalRecompute(arts, study)

            with st.spinner(f"Evaluating alpha = {alpha:g} on every query ..."):
                cell = recompute(str(arts.root)).evaluate(plm, alpha, n)
            source = (f"recomputed live from the shipped index ({index_storage(arts.manifest['schema_version'])}), "
                      "not the grid's float32 arrays: near-ties may swap; BENCHMARKS.md (index precision) measures "
                      "how far such cells are from the float32 grid")

st.subheader(f"{bench} · {plm} · alpha = {alpha:g} · n = {n}")
st.caption(f"Values in percent; baseline = alpha 0. ▲/▼: the difference is significant at Holm-adjusted "
           f"p < {SIGNIFICANCE_LEVEL} over the languages of the cell ({arts.manifest['significance']['test']}, "
           f"{arts.manifest['significance']['resamples']:,} resamples, per language over its queries; a macro row "
           f"keeps its own p). Cell: {source}. The whole question set: the Test half view has the numbers to "
           "report, at the alpha chosen on the dev half.")
if bench != "pawsx-adv":
    st.caption(f"R@kt reads the first k tokens of the top {arts.manifest['config']['top_k']} passages of each "
               "ranking (the grid's depth, as the official evaluation reads a prediction file): where these hold "
               "fewer than k tokens, the window is shorter. The shipped corpus's short Vital Articles passages do "
               "this mostly at 5,000 tokens; BENCHMARKS.md (R@kt windows and the top 100) measures by how much.")
table = comparison_table(base, cell, metrics)
unsupported = ui.unsupported_caption(arts, bench, [plm])
st.dataframe(ui.comparison_view(table, metrics, unsupported), width="stretch", column_config=ui.LANG_COLUMN)
with st.expander("Every column: baseline, xQG, Δ and p-value per metric"):
    st.dataframe(ui.full_comparison_view(table, unsupported), width="stretch")
if bench == "pawsx-adv":
    pair = res[(res.benchmark == "pawsx-pair") & (res.plm == plm) & (res.metric == "pair_acc")]
    if len(pair):
        st.caption(f"{plm} PAWS-X pair classification (cosine > threshold tuned on dev; independent of alpha): " +
                   ", ".join(f"{r.lang} {r.value:.1f}" for r in pair.itertuples()))

# ----------------------------------------------------------------------------- views
# Lazy tabs: only the open one runs and is drawn, so moving a slider redraws the table and
# one view, not every chart of the page. The open tab is part of the URL.
VIEWS = ["Test half", "Curves", "Encoders", "Controls", "Ablation", "Side by side", "Export"]
ui.bound("view", VIEWS[0], lambda v: v in VIEWS)
keys.append("view")
tabs = dict(zip(VIEWS, st.tabs(VIEWS, key="view", on_change="rerun")))
marks = unsupported_of(arts)
res_all = ui.results_all(arts)


grid_alpha = nearest_alpha(arts.alphas, alpha)  # an exact alpha's nearest grid value, for the grid's curves
FOCUS_ALPHA = 0.05  # where the effects are: the curves open on 0-0.05, the whole grid one toggle away


def alpha_figure(full_range: bool = True):
    curve = alpha_curve(res, bench, plm, n, metric)
    curve["lang"] = mark_unsupported(curve.lang, unsupported)
    fig = charts.line_figure(curve, "alpha", "value", f"{metric} vs alpha ({bench}, {plm}, n = {n})", color="lang",
                              labels={"value": f"{metric} (%)", "lang": "language"})
    fig.add_vline(x=alpha, line_dash="dot", annotation_text=f"selected {alpha:g}")
    fig.add_vline(x=PAPER_ALPHA, line_dash="dash", line_color="gray", annotation_text="paper 0.01",
                  annotation_position="bottom right")
    if not full_range:
        fig.update_xaxes(range=[0, FOCUS_ALPHA])
    return curve, fig


def n_figure():
    by_n = n_curve(res, bench, plm, grid_alpha, metric).assign(lang=lambda f: mark_unsupported(f.lang, unsupported))
    nearest = "" if abs(grid_alpha - alpha) < 1e-12 else f", the grid's nearest to {alpha:g}"
    return charts.line_figure(by_n, "n", "value", f"{metric} vs n (alpha = {grid_alpha:g}{nearest})", color="lang",
                               labels={"value": f"{metric} (%)", "n": "generated queries per language",
                                       "lang": "language"})


def encoders_figure():
    comparison = plm_comparison(res, bench, c["alpha"], n, metric)
    # one x category per language in every facet (a "hi †" label would open an empty "hi" slot
    # beside it in the others): a language the encoder was not trained on is hatched instead
    comparison["trained on it"] = ["no (†)" if lang in marks.get(p, {}).get(bench, []) else "yes"
                                   for p, lang in zip(comparison.plm, comparison.lang)]
    long = comparison.melt(id_vars=["plm", "lang", "trained on it"], value_vars=["baseline", "xQG"], var_name="system")
    return px.bar(long, x="lang", y="value", color="system", barmode="group", facet_col="plm",
                  pattern_shape="trained on it", pattern_shape_map={"yes": "", "no (†)": "/"},
                  labels={"value": f"{metric} (%)"}, title=f"{metric} by encoder (alpha = {c['alpha']:g}, n = {n})")


# the settings of views that are not open stay in the session and the URL
ab_alphas = ablation_alphas(res_all, bench, plm)
VERSUS = ["baseline", "xqg"]
if ab_alphas:
    keys += [ui.bound("ab_alpha", ab_alphas[0], lambda v: v in ab_alphas, cast=float),
             ui.bound("ab_versus", VERSUS[0], lambda v: v in VERSUS)]
    ab_alpha, versus = st.session_state["ab_alpha"], st.session_state["ab_versus"]
side_defaults = {"a": plm, "b": arts.encoders[-1]}
for side, default_plm in side_defaults.items():
    keys += [ui.bound(f"{side}_plm", default_plm, lambda v: v in arts.encoders),
             ui.bound(f"{side}_alpha", PAPER_ALPHA if PAPER_ALPHA in arts.alphas else arts.alphas[1],
                      lambda v: v in arts.alphas, cast=float),
             ui.bound(f"{side}_n", arts.n_max, lambda v: 1 <= v <= arts.n_max, cast=int)]


def ablation_figure():
    gains, p_values = ablation_gains(res_all, bench, plm, ab_alpha, metric, versus)
    heat = charts.ablation_heatmap(gains, p_values, unsupported,
                               f"{metric} gain over {'the baseline' if versus == 'baseline' else 'full xQG'} "
                               f"({bench}, {plm}, alpha = {ab_alpha:g}, n = {arts.n_max})")
    return gains, p_values, heat


splits = ui.splits(arts)


with tabs["Test half"]:
    if tabs["Test half"].open:
        if bench != "xquad-xr" or not has_halves(splits):
            st.info("Dev/test halves exist for xquad-xr in a study built with Study v3 (rebuild with "
                    "`python -m xqg_core precompute --config configs/default.yaml`).")
        else:
            for a, why, (over, versus) in derived.test_half_tables(arts, bench, plm, n, metric):
                st.markdown(f"**{ui.literal(plm)}, alpha = {a:g}** ({why}), test half, {ui.literal(metric)}")
                st.dataframe(over, width="stretch")
                if not versus.empty:
                    st.caption("Each control minus xQG on the same questions (negative: xQG does better):")
                    st.dataframe(versus, width="stretch")
            st.caption("XQuAD's articles are split in seeded halves: alpha is chosen on the dev half and every number "
                       "here is from the test half. [low, high]: paired bootstrap 95% interval (questions resampled "
                       "within a language; macro = mean of the languages); p_adj: Holm over the languages of the cell. "
                       "human: real XQuAD questions about the passage (the other cross-fitting fold's, never the "
                       "question itself or a translation of it), an optimistic upper bound.")
            st.plotly_chart(derived.strength_figure(arts, bench, n), config=ui.PLOTLY_CONFIG, key="fig-strength")

with tabs["Curves"]:
    if tabs["Curves"].open:
        ui.bound("full_alpha", False, lambda v: isinstance(v, bool), cast=lambda v: v == "True")
        full = st.toggle(f"Whole alpha grid (0-{max(arts.alphas):g}); off: 0-{FOCUS_ALPHA:g}, where the effects are",
                         key="full_alpha")
        keys.append("full_alpha")
        col1, col2 = st.columns(2)
        col1.plotly_chart(alpha_figure(full)[1], config=ui.PLOTLY_CONFIG, key="fig-alpha")
        col2.plotly_chart(n_figure(), config=ui.PLOTLY_CONFIG, key="fig-n")

with tabs["Encoders"]:
    if tabs["Encoders"].open:
        st.plotly_chart(encoders_figure(), config=ui.PLOTLY_CONFIG, key="fig-plm")

def controls_frame() -> pd.DataFrame:
    # only the Controls and Export views need it: built there, not on every slider move
    return controls_table(res_all, bench, plm, c["alpha"], n, metric)


with tabs["Controls"]:
    if tabs["Controls"].open:
        controls = controls_frame()
        st.markdown(f"**Is the gain passage-specific?** xQG vs the shuffled control ({ui.literal(metric)})")
        if controls.empty:
            st.info("This study has no shuffled control (it was built before controls existed); rebuild it with "
                    "`python -m xqg_core precompute --config configs/default.yaml` to see one.")
        else:
            st.caption("Shuffled: every passage is augmented with the generated queries of another passage (a fixed, "
                       "seeded derangement) - what adding *any* question-like vector does. xQG - shuffled is what the "
                       "passage's own queries add. ▲/▼: p < 0.05, paired randomization test (gains: vs the baseline; "
                       "xQG - shuffled: xQG vs shuffled on the same queries).")
            st.dataframe(ui.controls_view(controls, unsupported), width="stretch")

with tabs["Ablation"]:
    if tabs["Ablation"].open:
        st.markdown(f"**Which generated languages help which query languages?** ({ui.literal(metric)})")
        if not ab_alphas:
            st.info("This study has no generation-language ablation (rebuild it to get one).")
        else:
            c1, c2 = st.columns(2)
            ab_alpha = ui.select("Ablation alpha (n = n_max)", "ab_alpha", ab_alphas, container=c1)
            versus = ui.select("Gain over", "ab_versus", VERSUS, container=c2,
                               format_func=lambda v: "the baseline (alpha = 0)" if v == "baseline"
                               else "full xQG (all languages)")
            st.caption("only-L: passages augmented with the queries generated in language L alone (1/7 of xQG's "
                       "query mass, so alpha acts more weakly); without-L: with all but L. Cell: gain in points; "
                       "* p < 0.05 (paired randomization test). Hover for the p-value.")
            st.plotly_chart(ablation_figure()[2], config=ui.PLOTLY_CONFIG, key="fig-ablation")

with tabs["Side by side"]:
    if tabs["Side by side"].open:
        left, right = st.columns(2)
        configs = []
        for side, col in zip(side_defaults, (left, right)):
            p = ui.select("Encoder", f"{side}_plm", arts.encoders, container=col)
            a = col.select_slider("alpha", options=arts.alphas, key=f"{side}_alpha", format_func=lambda v: f"{v:g}")
            nn = col.slider("n", 1, arts.n_max, key=f"{side}_n")
            configs.append((p, a, nn))
        side_by_side = None
        for label, (p, a, nn) in zip(("A", "B"), configs):
            frame = cell_frame(res, bench, p, a, nn).set_index(["lang"]).query("metric == @metric").value
            name = f"{label}: {p}, alpha {a:g}, n {nn}"
            side_by_side = frame.rename(name).to_frame() if side_by_side is None else side_by_side.join(frame.rename(name))
        if side_by_side is not None and side_by_side.shape[1] == 2:
            side_by_side["B - A"] = side_by_side.iloc[:, 1] - side_by_side.iloc[:, 0]
            # a language either side's encoder was not trained on is marked (its avg_supported differs too)
            either = sorted({lang for p, _, _ in configs for lang in marks.get(p, {}).get(bench, [])})
            side_by_side.index = pd.Index(mark_unsupported(side_by_side.index, either), name="lang")
            st.dataframe(side_by_side.style.format("{:.2f}"), width="stretch")
            ui.unsupported_caption(arts, bench, list(dict.fromkeys(p for p, _, _ in configs)))

with tabs["Export"]:
    if tabs["Export"].open:
        name = f"{bench}-{plm}-a{alpha:g}-n{n}"
        st.markdown("**Per-language table**")
        exports.download_table(table, name, f"{bench}, {plm}, alpha={alpha:g}, n={n}: baseline vs xQG (percent)")
        curve, fig_alpha = alpha_figure()
        st.markdown("**Metric vs alpha (all languages)**")
        exports.download_table(curve.set_index(["lang", "alpha"]), f"{bench}-{plm}-{metric}-vs-alpha", f"{metric} vs alpha")
        exported = {"metric-vs-alpha": fig_alpha, "metric-vs-n": n_figure(), "encoders": encoders_figure()}
        controls = controls_frame()
        if not controls.empty:
            st.markdown("**xQG vs the shuffled control**")
            exports.download_table(controls, f"{bench}-{plm}-{metric}-controls-a{c['alpha']:g}-n{n}",
                              f"{metric}: baseline, xQG and the shuffled control (percent)")
        if ab_alphas:
            gains, p_values, exported["ablation"] = ablation_figure()
            st.markdown("**Generation-language ablation**")
            with_p = pd.concat([gains, p_values.add_suffix(" p")], axis=1)  # join(rsuffix=) is deprecated
            exports.download_table(with_p, f"{bench}-{plm}-{metric}-ablation-a{ab_alpha:g}",
                              f"{metric} gain by generation language (rows) and query language (columns), with p-values")
        st.markdown("**Figures**")
        exports.figure_downloads(exported)
        st.markdown("**Report of this view**")
        exports.report_downloads("xQG Explorer - results", {"benchmark": bench, "encoder": plm, "alpha": f"{alpha:g}",
                                                       "n": n, "cell": source}, {"Baseline vs xQG": table},
                            notes=arts.manifest.get("deviations", []))
ui.sync_url(keys)
