"""Results: per-language metrics, baseline vs xQG, with significance; curves over alpha and n;
PLM comparison; two configurations side by side; exports."""
from __future__ import annotations

import plotly.express as px
import streamlit as st

from pages import ui
from xqg_core.explore import (
    BENCHMARK_METRICS,
    RetrievalRecompute,
    alpha_curve,
    cell_frame,
    comparison_table,
    n_curve,
    plm_comparison,
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
st.dataframe(ui.comparison_view(table, metrics), width="stretch")
if bench == "pawsx-adv":
    pair = res[(res.benchmark == "pawsx-pair") & (res.plm == plm) & (res.metric == "pair_acc")]
    if len(pair):
        st.caption(f"{plm} PAWS-X pair classification (cosine > threshold tuned on dev; independent of alpha): " +
                   ", ".join(f"{r.lang} {r.value:.1f}" for r in pair.itertuples()))

# ----------------------------------------------------------------------------- charts
st.subheader(f"{metric} against alpha, n and encoder")
curve = alpha_curve(res, bench, plm, n, metric)
fig_alpha = px.line(curve, x="alpha", y="value", color="lang", markers=True,
                    labels={"value": f"{metric} (%)", "lang": "language"},
                    title=f"{metric} vs alpha ({bench}, {plm}, n = {n})")
fig_alpha.add_vline(x=alpha, line_dash="dot", annotation_text=f"selected {alpha:g}")
fig_alpha.add_vline(x=PAPER_ALPHA, line_dash="dash", line_color="gray", annotation_text="paper 0.01",
                    annotation_position="bottom right")
fig_n = px.line(n_curve(res, bench, plm, c["alpha"], metric), x="n", y="value", color="lang", markers=True,
                labels={"value": f"{metric} (%)", "n": "generated queries per language"},
                title=f"{metric} vs n (alpha = {c['alpha']:g})")
comparison = plm_comparison(res, bench, c["alpha"], n, metric)
long = comparison.melt(id_vars=["plm", "lang"], value_vars=["baseline", "xQG"], var_name="system")
fig_plm = px.bar(long, x="lang", y="value", color="system", barmode="group", facet_col="plm",
                 labels={"value": f"{metric} (%)"}, title=f"{metric} by encoder (alpha = {c['alpha']:g}, n = {n})")
col1, col2 = st.columns(2)
col1.plotly_chart(fig_alpha, config=ui.PLOTLY_CONFIG, key="fig-alpha")
col2.plotly_chart(fig_n, config=ui.PLOTLY_CONFIG, key="fig-n")
st.plotly_chart(fig_plm, config=ui.PLOTLY_CONFIG, key="fig-plm")

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
    st.dataframe(side_by_side.style.format("{:.2f}"), width="stretch")
ui.sync_url(keys)

# ----------------------------------------------------------------------------- export
with st.expander("Export this view"):
    name = f"{bench}-{plm}-a{alpha:g}-n{n}"
    st.markdown("**Per-language table**")
    ui.download_table(table, name, f"{bench}, {plm}, alpha={alpha:g}, n={n}: baseline vs xQG (percent)")
    st.markdown("**Metric vs alpha (all languages)**")
    ui.download_table(curve.set_index(["lang", "alpha"]), f"{bench}-{plm}-{metric}-vs-alpha", f"{metric} vs alpha")
    st.markdown("**Figures**")
    ui.figure_downloads({"metric-vs-alpha": fig_alpha, "metric-vs-n": fig_n, "encoders": fig_plm})
    st.markdown("**Report of this view**")
    ui.report_downloads("xQG Explorer - results", {"benchmark": bench, "encoder": plm, "alpha": f"{alpha:g}",
                                                   "n": n, "cell": source}, {"Baseline vs xQG": table},
                        notes=arts.manifest.get("deviations", []))
