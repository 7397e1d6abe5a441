"""Embedding shift: a UMAP of passages with each passage's shift drawn as an arrow, how far
passages move in the full embedding space, a zoom on one passage's region, and how its
nearest neighbours change."""
from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from pages import exports, ui
from xqg_core.explore.live import vital_topics
from xqg_core.explore.shift import (
    cosine_displacement,
    displacement_histogram,
    map_positions,
    nearest_neighbour_distance,
    neighbour_changes,
    passage_groups,
    region,
    shift_map,
    zoom_figure,
)

SCALES = [1, 2, 5, 10, 20, 50]


# The map and the distribution depend only on the study and the sidebar: built once per process
# and shared by every session (read-only), so a visit does not redraw 1,500 arrows.
@st.cache_resource(show_spinner=False, max_entries=64)
def map_view(root: str, plm: str, alpha: float, n: int, colour: str, scale: int, show_queries: bool):
    points = ui.table(root, "umap.parquet")
    docids = ui.table(root, "corpora/xquad-xr.parquet").docid.tolist()
    before, after = map_positions(points, plm, alpha)
    groups = pd.Series(passage_groups([docids[p] for p in before.index], vital_topics(), colour), index=before.index)
    queries = points[(points.plm == plm) & (points.kind == "query")] if show_queries else None
    fig = shift_map(before, after, groups, docids, scale, queries,
                    f"{plm}: passages and their shift (alpha = {alpha:g}, n = {n}; arrows x{scale})")
    return before, after, groups, fig


@st.cache_resource(show_spinner=False, max_entries=32)
def displacement_view(root: str, plm: str, alpha: float, n: int):
    """Every passage's 1 - cos(p, p'), the map passages' distance to their nearest passage (1,500
    x 12,734 similarities) and the histogram."""
    index = ui.live_index(ui.artifacts(), plm)
    docids = ui.table(root, "corpora/xquad-xr.parquet").docid.tolist()
    before, _ = map_positions(ui.table(root, "umap.parquet"), plm, alpha)
    moved = cosine_displacement(index.P, index.S[n - 1], alpha)
    source = np.array(["XQuAD passage" if d.startswith("xquad-") else "Vital Articles distractor" for d in docids])
    nearest = nearest_neighbour_distance(index.P, before.index.to_numpy())
    hist = displacement_histogram(moved, source, f"{plm}, alpha = {alpha:g}, n = {n}: every passage ({len(moved):,})")
    return moved, source, nearest, hist


st.title("Embedding shift")
arts = ui.artifacts()
if "umap.parquet" not in arts.manifest["files"]:
    st.info("These artifacts hold no UMAP projection (the config's umap section is off).")
    st.stop()
umap_cfg = arts.manifest["config"]["umap"]
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

before, after, groups, fig = map_view(str(arts.root), plm, alpha, n, colour, scale, show_queries)
common = before.index
st.plotly_chart(fig, config=ui.PLOTLY_CONFIG, key="fig-umap")
shift_2d = np.hypot(after.x - before.x, after.y - before.y)
width = float(max(before.x.max() - before.x.min(), before.y.max() - before.y.min()))
st.caption(f"Median shift in the 2-D map: {np.median(shift_2d):.3f} on a map {width:.1f} units wide (drawn x{scale}). "
           "Click a legend entry to hide a group; drag to zoom.")

# ----------------------------------------------------------------------------- distribution
st.subheader("How far passages move: 1 - cos(p, p') in the full embedding space")
index = ui.live_index(arts, plm)
moved, source, nearest, hist = displacement_view(str(arts.root), plm, alpha, n)
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
zoom = zoom_figure(before, after, near, chosen, docids)
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
