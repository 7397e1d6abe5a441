"""Embedding shift: a UMAP of passages with each passage's shift drawn as an arrow, how far
passages move in the full embedding space, a zoom on one passage's region, and how its
nearest neighbours change."""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st

from pages import exports, ui
from xqg_core.explore.charts import LANG_COLOURS, PLM_COLOURS
from xqg_core.explore.live import vital_topics
from xqg_core.explore.shift import (
    arrows_trace,
    cosine_displacement,
    nearest_neighbour_distance,
    neighbour_changes,
    passage_groups,
    region,
)

SCALES = [1, 2, 5, 10, 20, 50]
GROUP_COLOURS = px.colors.qualitative.Safe + px.colors.qualitative.Vivid  # colour-blind-safe first



@st.cache_data(show_spinner=False, max_entries=32)
def displacement(root: str, plm: str, alpha: float, n: int, rows: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Every passage's 1 - cos(p, p') and the map passages' distance to their nearest passage,
    computed once per process (the second reads 1,500 x 12,734 similarities)."""
    index = ui.live_index(arts, plm)
    return cosine_displacement(index.P, index.S[n - 1], alpha), nearest_neighbour_distance(index.P, np.asarray(rows))


st.title("Embedding shift")
arts = ui.artifacts()
if "umap.parquet" not in arts.manifest["files"]:
    st.info("These artifacts hold no UMAP projection (the config's umap section is off).")
    st.stop()
umap_cfg = arts.manifest["config"]["umap"]
points = ui.table(str(arts.root), "umap.parquet")
docids = ui.table(str(arts.root), "corpora/xquad-xr.parquet").docid.tolist()
plm = ui.select("Encoder (PLM)", "plm", arts.encoders)
alphas = [float(a) for a in umap_cfg["alphas"]]
k_alpha = ui.bound("umap_alpha", alphas[0], lambda v: v in alphas, cast=float)
alpha = st.sidebar.select_slider("alpha of the augmented positions", options=alphas, key=k_alpha,
                                 format_func=lambda a: f"{a:g}")
colour = ui.select("Colour by", "colour", ["source", "topic"],
                   format_func=lambda v: {"source": "source", "topic": "topic (Vital Articles topics)"}[v])
k_scale = ui.bound("arrow_scale", 10, lambda v: v in SCALES, cast=int)
scale = st.sidebar.select_slider("Arrows drawn x times their length", options=SCALES, key=k_scale)
k_q = ui.bound("show_queries", False, lambda v: isinstance(v, bool), cast=lambda s: s == "True")
show_queries = st.sidebar.checkbox("show generated queries (coloured by language)", key=k_q)
keys = ["plm", k_alpha, "colour", k_scale, k_q]
n = int(umap_cfg["n"])
study = ui.study(arts)
titles = [p.title for p in study.corpora["xquad-xr"]] if study is not None else [""] * len(docids)

st.markdown(
    f"One UMAP (cosine) per encoder over the first {umap_cfg['passages']:,} xquad-xr passages (XQuAD passages "
    f"first, then Vital Articles distractors), with their augmented positions p'(alpha, n = {n}). Each arrow starts "
    f"at a passage (circle) and points to its augmented position, **drawn {scale}x its length**: the true shift is "
    "small against the map (the distribution below measures it in the full embedding space).")

mine = points[points.plm == plm]
before = mine[mine.kind == "passage"].set_index("passage")
after = mine[(mine.kind == "augmented") & (np.abs(mine.alpha - alpha) < 1e-9)].set_index("passage")
common = before.index.intersection(after.index)
before, after = before.loc[common], after.loc[common]
groups = pd.Series(passage_groups([docids[p] for p in common], vital_topics(), colour), index=common)
palette = {g: GROUP_COLOURS[i % len(GROUP_COLOURS)] for i, g in enumerate(sorted(set(groups)))}

fig = go.Figure()
for name, hue in palette.items():
    idx = groups.index[groups == name]
    fig.add_trace(go.Scattergl(x=before.loc[idx].x, y=before.loc[idx].y, mode="markers", name=name, legendgroup=name,
                               marker={"size": 5, "color": hue, "opacity": 0.7}, text=[docids[p] for p in idx],
                               hovertemplate="%{text}<extra></extra>"))
    fig.add_trace(arrows_trace(before.loc[idx].x, before.loc[idx].y, after.loc[idx].x, after.loc[idx].y, scale, hue,
                               name, show_legend=False).update(legendgroup=name))
if show_queries:
    q = mine[mine.kind == "query"]
    for lang in sorted(set(q.lang)):
        sub = q[q.lang == lang]
        fig.add_trace(go.Scattergl(x=sub.x, y=sub.y, mode="markers", name=f"query {lang}",
                                   marker={"size": 4, "symbol": "diamond", "color": LANG_COLOURS.get(lang)},
                                   text=[docids[p] for p in sub.passage],
                                   hovertemplate="query of %{text}<extra>" + lang + "</extra>"))
fig.update_layout(title=f"{plm}: passages and their shift (alpha = {alpha:g}, n = {n}; arrows x{scale})", height=720,
                  xaxis_title="UMAP 1", yaxis_title="UMAP 2",
                  legend={"orientation": "h", "yanchor": "top", "y": -0.1, "xanchor": "left", "x": 0})
st.plotly_chart(fig, config=ui.PLOTLY_CONFIG, key="fig-umap")
shift_2d = np.hypot(after.x - before.x, after.y - before.y)
width = float(max(before.x.max() - before.x.min(), before.y.max() - before.y.min()))
st.caption(f"Median shift in the 2-D map: {np.median(shift_2d):.3f} on a map {width:.1f} units wide (drawn x{scale}). "
           "Click a legend entry to hide a group; drag to zoom.")

# ----------------------------------------------------------------------------- distribution
st.subheader("How far passages move: 1 - cos(p, p') in the full embedding space")
index = ui.live_index(arts, plm)
moved, nearest = displacement(str(arts.root), plm, alpha, n, tuple(int(p) for p in common))
source = np.array(["XQuAD passage" if d.startswith("xquad-") else "Vital Articles distractor" for d in docids])
distribution = pd.DataFrame({"1 - cos(p, p')": moved, "source": source})
hist = px.histogram(distribution, x="1 - cos(p, p')", color="source", barmode="overlay", nbins=80,
                    histnorm="percent", color_discrete_sequence=PLM_COLOURS,
                    title=f"{plm}, alpha = {alpha:g}, n = {n}: every passage ({len(moved):,})")
hist.update_layout(legend={"orientation": "h", "y": -0.2})
st.plotly_chart(hist, config=ui.PLOTLY_CONFIG, key="fig-shift-hist")
st.caption(f"Median 1 - cos(p, p'): XQuAD passages {np.median(moved[source == 'XQuAD passage']):.5f}, distractors "
           f"{np.median(moved[source != 'XQuAD passage']):.5f}; a map passage's nearest other passage is a median "
           f"{np.median(nearest):.4f} away (1 - cos): a shift well below that rarely reorders neighbours.")

# ----------------------------------------------------------------------------- one passage
st.subheader("One passage: its region, its generated queries and its neighbours")
choices = [int(p) for p in common]
k_p = ui.bound("passage", choices[0], lambda v: v in choices, cast=int)
chosen = st.selectbox("Passage", choices, key=k_p, format_func=lambda p: f"{docids[p]} - {titles[p]}")
keys.append(k_p)
ui.sync_url(keys)
near = common[region(before.x.to_numpy(), before.y.to_numpy(), choices.index(chosen), 80)]
zoom = go.Figure([go.Scatter(x=before.loc[near].x, y=before.loc[near].y, mode="markers", name="passage (before)",
                             marker={"size": 7, "color": PLM_COLOURS[0]}, text=[docids[p] for p in near],
                             hovertemplate="%{text}<extra>before</extra>"),
                  go.Scatter(x=after.loc[near].x, y=after.loc[near].y, mode="markers", name="augmented (after)",
                             marker={"size": 7, "symbol": "x-thin-open", "color": PLM_COLOURS[1]},
                             text=[docids[p] for p in near], hovertemplate="%{text}<extra>after</extra>"),
                  arrows_trace(before.loc[near].x, before.loc[near].y, after.loc[near].x, after.loc[near].y, 1.0,
                               "gray", "shift (true length)"),
                  go.Scatter(x=[before.loc[chosen].x], y=[before.loc[chosen].y], mode="markers", name=docids[chosen],
                             marker={"size": 14, "symbol": "circle-open", "color": "black", "line": {"width": 2}})])
zoom.update_layout(title=f"The 80 map passages nearest to {docids[chosen]}, shifts at true length", height=480,
                   xaxis_title="UMAP 1", yaxis_title="UMAP 2", legend={"orientation": "h", "y": -0.2})
st.plotly_chart(zoom, config=ui.PLOTLY_CONFIG, key="fig-zoom")
if study is not None:
    st.text(study.corpora["xquad-xr"][chosen].contents)
mine_q = ui.generated_queries(arts).of("xquad-xr", docids[chosen])
st.markdown(f"**Generated queries** (model output, {len(mine_q)}; the first n = {n} per language enter p'):")
st.dataframe(mine_q[["lang", "i", "text"]], hide_index=True, width="stretch")
neighbours = neighbour_changes(*index.neighbours(chosen, alpha, n), docids, titles)
changed = (neighbours.change != "same").sum()
st.markdown(f"**Nearest passages** (cosine in the full embedding space), before and after augmentation: "
            f"{changed} of {len(neighbours)} changed")
st.dataframe(neighbours.style.apply(lambda col: ["font-weight: bold" if c != "same" else "" for c in col],
                                    subset=["change"]), hide_index=True, width="stretch")

with st.expander("Export this view"):
    coords = pd.DataFrame({"docid": [docids[p] for p in common], "x_before": before.x.values, "y_before": before.y.values,
                           "x_after": after.x.values, "y_after": after.y.values, "group": groups.values,
                           "1 - cos(p, p')": moved[np.asarray(common)]})
    exports.download_table(coords.set_index("docid"), f"umap-{plm}-a{alpha:g}", f"UMAP coordinates, {plm}, alpha={alpha:g}")
    exports.figure_downloads({"embedding-shift": fig, "embedding-shift-distribution": hist, "embedding-shift-zoom": zoom})
    exports.report_downloads("xQG Explorer - embedding shift", {"encoder": plm, "alpha": f"{alpha:g}", "n": n,
                                                           "passage": docids[chosen]},
                             {"Nearest passages": neighbours, "Generated queries": mine_q[["lang", "i", "text"]]})
