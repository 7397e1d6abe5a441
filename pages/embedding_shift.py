"""Embedding shift: a UMAP of passages before and after augmentation (and some of their
generated queries), with each passage's shift drawn; one passage's queries and neighbours."""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from pages import exports, ui

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
colour = ui.select("Colour by", "colour", ["source", "topic", "before / after"])
k_q = ui.bound("show_queries", True, lambda v: isinstance(v, bool), cast=lambda s: s == "True")
show_queries = st.sidebar.checkbox("show generated queries (coloured by language)", key=k_q)
keys = ["plm", k_alpha, "colour", k_q]
n = int(umap_cfg["n"])
study = ui.study(arts)
passages = study.corpora["xquad-xr"] if study is not None else None

st.markdown(
    f"One UMAP (cosine) per encoder over the first {umap_cfg['passages']:,} xquad-xr passages (XQuAD passages "
    f"first, then Vital Articles distractors), their augmented positions p'(alpha, n = {n}) and, for the first "
    f"{umap_cfg['query_passages']} passages, {umap_cfg['queries_per_passage']} generated query per language. "
    "Segments join each passage (circle) to its augmented position (cross).")

mine = points[points.plm == plm]
before = mine[mine.kind == "passage"].set_index("passage")
after = mine[(mine.kind == "augmented") & (np.abs(mine.alpha - alpha) < 1e-9)].set_index("passage")
common = before.index.intersection(after.index)
before, after = before.loc[common], after.loc[common]
source = pd.Series(["XQuAD passage" if docids[p].startswith("xquad-") else "Vital Articles distractor" for p in common],
                   index=common)
if colour == "topic" and passages is not None:
    titles = pd.Series([passages[p].title for p in common], index=common)
    top = titles.value_counts().index[:12]
    groups = titles.where(titles.isin(top), "other topics")
elif colour == "before / after":
    groups = pd.Series("passage", index=common)
else:
    groups = source

fig = go.Figure()
seg_x = np.column_stack([before.x, after.x, np.full(len(common), np.nan)]).ravel()
seg_y = np.column_stack([before.y, after.y, np.full(len(common), np.nan)]).ravel()
fig.add_trace(go.Scattergl(x=seg_x, y=seg_y, mode="lines", line={"width": 0.6, "color": "rgba(128,128,128,0.45)"},
                           name="shift", hoverinfo="skip"))
for name in sorted(set(groups)):
    idx = groups.index[groups == name]
    label = [docids[p] for p in idx]
    fig.add_trace(go.Scattergl(x=before.loc[idx].x, y=before.loc[idx].y, mode="markers", name=f"{name} (before)",
                               marker={"size": 5, "symbol": "circle"}, text=label, hovertemplate="%{text}<extra>before</extra>"))
    fig.add_trace(go.Scattergl(x=after.loc[idx].x, y=after.loc[idx].y, mode="markers", name=f"{name} (after)",
                               marker={"size": 6, "symbol": "x"}, text=label,
                               hovertemplate="%{text}<extra>after</extra>"))
if show_queries:
    q = mine[mine.kind == "query"]
    for lang in sorted(set(q.lang)):
        sub = q[q.lang == lang]
        fig.add_trace(go.Scattergl(x=sub.x, y=sub.y, mode="markers", name=f"query {lang}",
                                   marker={"size": 4, "symbol": "diamond"}, text=[docids[p] for p in sub.passage],
                                   hovertemplate="query of %{text}<extra>" + lang + "</extra>"))
fig.update_layout(title=f"{plm}: passages before and after augmentation (alpha = {alpha:g}, n = {n})", height=650,
                  xaxis_title="UMAP 1", yaxis_title="UMAP 2")
st.plotly_chart(fig, config=ui.PLOTLY_CONFIG, key="fig-umap")
shift = np.hypot(after.x - before.x, after.y - before.y)
st.caption(f"Median shift in the 2-D map: {np.median(shift):.3f} (XQuAD passages {np.median(shift[source == 'XQuAD passage']):.3f}, "
           f"distractors {np.median(shift[source != 'XQuAD passage']):.3f}).")

# ----------------------------------------------------------------------------- one passage
st.subheader("One passage: its generated queries and neighbours")
choices = [int(p) for p in common]
k_p = ui.bound("passage", choices[0], lambda v: v in choices, cast=int)
label = (lambda p: f"{docids[p]} - {passages[p].title}") if passages is not None else (lambda p: docids[p])
chosen = st.selectbox("Passage", choices, key=k_p, format_func=label)
keys.append(k_p)
if passages is not None:
    st.text(passages[chosen].contents)
mine_q = ui.generated_queries(arts).of("xquad-xr", docids[chosen])
st.markdown(f"**Generated queries** (model output, {len(mine_q)}; the first n = {n} per language enter p'):")
st.dataframe(mine_q[["lang", "i", "text"]], hide_index=True, width="stretch")



index = ui.live_index(arts, plm)
near_before, near_after = index.neighbours(chosen, alpha, n)
describe = (lambda p: passages[p].title) if passages is not None else (lambda p: "")
neighbours = pd.DataFrame({"before: docid": [docids[p] for p in near_before], "before: title": map(describe, near_before),
                           "after: docid": [docids[p] for p in near_after], "after: title": map(describe, near_after)})
st.markdown("**Nearest passages** (cosine in the full embedding space, before and after augmentation):")
st.dataframe(neighbours, hide_index=True, width="stretch")
ui.sync_url(keys)

with st.expander("Export this view"):
    coords = pd.DataFrame({"docid": [docids[p] for p in common], "x_before": before.x.values, "y_before": before.y.values,
                           "x_after": after.x.values, "y_after": after.y.values, "source": source.values})
    exports.download_table(coords.set_index("docid"), f"umap-{plm}-a{alpha:g}", f"UMAP coordinates, {plm}, alpha={alpha:g}")
    exports.figure_downloads({"embedding-shift": fig})
    exports.report_downloads("xQG Explorer - embedding shift", {"encoder": plm, "alpha": f"{alpha:g}", "n": n,
                                                           "passage": docids[chosen]},
                        {"Nearest passages": neighbours, "Generated queries": mine_q[["lang", "i", "text"]]})
