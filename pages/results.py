"""Results: per-language metrics, baseline vs xQG, with significance; curves over alpha and n;
PLM comparison; two configurations side by side; exports."""
from __future__ import annotations

import pandas as pd
import plotly.express as px
import streamlit as st

from pages import ui
from xqg_core.explore import (
    BENCHMARK_METRICS,
    RetrievalRecompute,
    ablation_alphas,
    ablation_gains,
    alpha_curve,
    cell_frame,
    comparison_table,
    controls_table,
    mark_unsupported,
    n_curve,
    plm_comparison,
    unsupported_of,
)
from xqg_core.grid import SIGNIFICANCE_LEVEL
from xqg_core.precompute import PAPER_ALPHA

st.title("Results")
arts = ui.artifacts()
res = ui.results_of(arts)
benchmarks = [b for b in ("xquad-xr", "pawsx-adv", "xor-retrieve") if b in set(res.benchmark)]
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
            source = "recomputed live from the float16 index"

st.subheader(f"{bench} · {plm} · alpha = {alpha:g} · n = {n}")
st.caption(f"Values in percent; baseline = alpha 0. ▲/▼: the difference is significant at p < {SIGNIFICANCE_LEVEL} "
           f"({arts.manifest['significance']['test']}, {arts.manifest['significance']['resamples']:,} resamples, "
           f"per language over its queries; avg over all queries). Cell: {source}.")
table = comparison_table(base, cell, metrics)
unsupported = ui.unsupported_caption(arts, bench, [plm])
st.dataframe(ui.comparison_view(table, metrics, unsupported), width="stretch")
with st.expander("Every column: baseline, xQG, Δ and p-value per metric"):
    st.dataframe(ui.full_comparison_view(table, unsupported), width="stretch")
if bench == "pawsx-adv":
    pair = res[(res.benchmark == "pawsx-pair") & (res.plm == plm) & (res.metric == "pair_acc")]
    if len(pair):
        st.caption(f"{plm} PAWS-X pair classification (cosine > threshold tuned on dev; independent of alpha): " +
                   ", ".join(f"{r.lang} {r.value:.1f}" for r in pair.itertuples()))

# ----------------------------------------------------------------------------- charts
st.subheader(f"{metric} against alpha, n and encoder")
curve = alpha_curve(res, bench, plm, n, metric)
curve["lang"] = mark_unsupported(curve.lang, unsupported)
fig_alpha = px.line(curve, x="alpha", y="value", color="lang", markers=True,
                    labels={"value": f"{metric} (%)", "lang": "language"},
                    title=f"{metric} vs alpha ({bench}, {plm}, n = {n})")
fig_alpha.add_vline(x=alpha, line_dash="dot", annotation_text=f"selected {alpha:g}")
fig_alpha.add_vline(x=PAPER_ALPHA, line_dash="dash", line_color="gray", annotation_text="paper 0.01",
                    annotation_position="bottom right")
by_n = n_curve(res, bench, plm, c["alpha"], metric).assign(lang=lambda f: mark_unsupported(f.lang, unsupported))
fig_n = px.line(by_n, x="n", y="value", color="lang", markers=True,
                labels={"value": f"{metric} (%)", "n": "generated queries per language"},
                title=f"{metric} vs n (alpha = {c['alpha']:g})")
comparison = plm_comparison(res, bench, c["alpha"], n, metric)
marks = unsupported_of(arts)
comparison["lang"] = [mark_unsupported([lang], marks.get(p, {}).get(bench, []))[0]
                      for p, lang in zip(comparison.plm, comparison.lang)]
long = comparison.melt(id_vars=["plm", "lang"], value_vars=["baseline", "xQG"], var_name="system")
fig_plm = px.bar(long, x="lang", y="value", color="system", barmode="group", facet_col="plm",
                 labels={"value": f"{metric} (%)"}, title=f"{metric} by encoder (alpha = {c['alpha']:g}, n = {n})")
col1, col2 = st.columns(2)
col1.plotly_chart(fig_alpha, config=ui.PLOTLY_CONFIG, key="fig-alpha")
col2.plotly_chart(fig_n, config=ui.PLOTLY_CONFIG, key="fig-n")
st.plotly_chart(fig_plm, config=ui.PLOTLY_CONFIG, key="fig-plm")

# ----------------------------------------------------------------------------- controls
st.subheader(f"Is the gain passage-specific? xQG vs the shuffled control ({metric})")
res_all = ui.results_all(arts)
controls = controls_table(res_all, bench, plm, c["alpha"], n, metric)
if controls.empty:
    st.info("This study has no shuffled control (it was built before controls existed); rebuild it with "
            "`python -m xqg_core precompute --config configs/default.yaml` to see one.")
else:
    st.caption("Shuffled: every passage is augmented with the generated queries of another passage (a fixed, "
               "seeded derangement) - what adding *any* question-like vector does. xQG - shuffled is what the "
               "passage's own queries add. ▲/▼: p < 0.05, paired randomization test (gains: vs the baseline; "
               "xQG - shuffled: xQG vs shuffled on the same queries).")
    st.dataframe(ui.controls_view(controls, unsupported), width="stretch")

st.subheader(f"Which generated languages help which query languages? ({metric})")
ab_alphas = ablation_alphas(res_all, bench, plm)
heat = None
if not ab_alphas:
    st.info("This study has no generation-language ablation (rebuild it to get one).")
else:
    c1, c2 = st.columns(2)
    ab_alpha = ui.select("Ablation alpha (n = n_max)", "ab_alpha", ab_alphas, container=c1)
    versus = ui.select("Gain over", "ab_versus", ["baseline", "xqg"], container=c2,
                       format_func=lambda v: "the baseline (alpha = 0)" if v == "baseline" else "full xQG (all languages)")
    keys += ["ab_alpha", "ab_versus"]
    gains, p_values = ablation_gains(res_all, bench, plm, ab_alpha, metric, versus)
    heat = ui.ablation_heatmap(gains, p_values, unsupported,
                               f"{metric} gain over {'the baseline' if versus == 'baseline' else 'full xQG'} "
                               f"({bench}, {plm}, alpha = {ab_alpha:g}, n = {arts.n_max})")
    st.caption("only-L: passages augmented with the queries generated in language L alone (1/7 of xQG's query "
               "mass, so alpha acts more weakly); without-L: with all but L. Cell: gain in points; * p < 0.05 "
               "(paired randomization test). Hover for the p-value.")
    st.plotly_chart(heat, config=ui.PLOTLY_CONFIG, key="fig-ablation")

# ----------------------------------------------------------------------------- side by side
st.subheader("Two configurations side by side")
left, right = st.columns(2)
configs = []
for side, col, default_plm in (("a", left, plm), ("b", right, arts.encoders[-1])):
    with col:
        p = ui.select("Encoder", f"{side}_plm", arts.encoders, default=default_plm, container=col)
        k_alpha = ui.bound(f"{side}_alpha", PAPER_ALPHA if PAPER_ALPHA in arts.alphas else arts.alphas[1],
                           lambda v: v in arts.alphas, cast=float)
        a = col.select_slider("alpha", options=arts.alphas, key=k_alpha, format_func=lambda v: f"{v:g}")
        k_n = ui.bound(f"{side}_n", arts.n_max, lambda v: 1 <= v <= arts.n_max, cast=int)
        nn = col.slider("n", 1, arts.n_max, key=k_n)
        configs.append((p, a, nn))
        keys += [f"{side}_plm", k_alpha, k_n]
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
ui.sync_url(keys)

# ----------------------------------------------------------------------------- export
with st.expander("Export this view"):
    name = f"{bench}-{plm}-a{alpha:g}-n{n}"
    st.markdown("**Per-language table**")
    ui.download_table(table, name, f"{bench}, {plm}, alpha={alpha:g}, n={n}: baseline vs xQG (percent)")
    st.markdown("**Metric vs alpha (all languages)**")
    ui.download_table(curve.set_index(["lang", "alpha"]), f"{bench}-{plm}-{metric}-vs-alpha", f"{metric} vs alpha")
    if not controls.empty:
        st.markdown("**xQG vs the shuffled control**")
        ui.download_table(controls, f"{bench}-{plm}-{metric}-controls-a{c['alpha']:g}-n{n}",
                          f"{metric}: baseline, xQG and the shuffled control (percent)")
    if heat is not None:
        st.markdown("**Generation-language ablation**")
        ui.download_table(gains.join(p_values, rsuffix=" p"), f"{bench}-{plm}-{metric}-ablation-a{ab_alpha:g}",
                          f"{metric} gain by generation language (rows) and query language (columns), with p-values")
    st.markdown("**Figures**")
    figures = {"metric-vs-alpha": fig_alpha, "metric-vs-n": fig_n, "encoders": fig_plm}
    if heat is not None:
        figures["ablation"] = heat
    ui.figure_downloads(figures)
    st.markdown("**Report of this view**")
    ui.report_downloads("xQG Explorer - results", {"benchmark": bench, "encoder": plm, "alpha": f"{alpha:g}",
                                                   "n": n, "cell": source}, {"Baseline vs xQG": table},
                        notes=arts.manifest.get("deviations", []))
