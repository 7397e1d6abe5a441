"""The embedding shift of augmentation, measured where it happens (the full embedding space)
and drawn where it can be seen (the shipped UMAP): displacements, their distribution, a
region around one passage, and how a passage's nearest neighbours change.

p' = (1 - alpha) p + alpha S_n(p) moves every passage; its cosine displacement
``1 - cos(p, p')`` is the number that matters for retrieval, the 2-D map only shows where.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

from xqg_core.explore.charts import LANG_COLOURS, PLM_COLOURS
from xqg_core.explore.live import passage_source

NEIGHBOUR_COLUMNS = ["docid", "title", "rank before", "rank after", "change"]
GROUP_COLOURS = px.colors.qualitative.Safe + px.colors.qualitative.Vivid  # colour-blind-safe first


def passage_groups(docids: Sequence[str], topics: Sequence[str], colour: str) -> list[str]:
    """Each passage's colour group: ``source`` (XQuAD / Vital Articles), ``topic`` (the Vital
    Articles topic the package ships; XQuAD passages form their own group) or one group."""
    if colour == "before / after":
        return ["passage"] * len(docids)
    pairs = [passage_source(d, topics) for d in docids]
    if colour == "topic":
        return [f"Vital: {topic}" if source == "Vital Articles" else source for source, topic in pairs]
    return [source for source, _ in pairs]


def cosine_displacement(P: np.ndarray, S_n: np.ndarray, alpha: float) -> np.ndarray:
    """``1 - cos(p, p')`` per passage, ``p' = (1 - alpha) p + alpha S_n(p)`` (0: not moved)."""
    P = np.asarray(P, dtype=np.float64)
    moved = (1 - alpha) * P + alpha * np.asarray(S_n, dtype=np.float64)
    cos = (P * moved).sum(1) / (np.linalg.norm(P, axis=1) * np.linalg.norm(moved, axis=1) + 1e-12)
    return 1.0 - cos


def nearest_neighbour_distance(P: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``1 - cos`` from each passage in ``rows`` to its nearest other passage of ``P``: the
    scale a displacement is read against (a shift smaller than this rarely reorders neighbours)."""
    unit = np.asarray(P, dtype=np.float32)
    unit = unit / (np.linalg.norm(unit, axis=1, keepdims=True) + 1e-12)
    sims = unit[rows] @ unit.T
    sims[np.arange(len(rows)), rows] = -np.inf
    return 1.0 - sims.max(axis=1).astype(np.float64)


def arrow_segments(x0: np.ndarray, y0: np.ndarray, x1: np.ndarray, y1: np.ndarray,
                   scale: float) -> tuple[np.ndarray, np.ndarray]:
    """Polyline coordinates (``x0, x0 + scale dx, nan`` per passage) of arrows drawn ``scale``
    times their length from each passage's position: a shift of 0.05 on a map 25 units wide
    is otherwise a dot."""
    x1s, y1s = x0 + scale * (x1 - x0), y0 + scale * (y1 - y0)
    gap = np.full(len(x0), np.nan)
    return np.column_stack([x0, x1s, gap]).ravel(), np.column_stack([y0, y1s, gap]).ravel()


def arrows_trace(x0, y0, x1, y1, scale: float, colour: str, name: str, show_legend: bool = True) -> go.Scatter:
    """One trace of arrows (SVG: plotly draws arrowheads only there), the head at the tip."""
    xs, ys = arrow_segments(np.asarray(x0), np.asarray(y0), np.asarray(x1), np.asarray(y1), scale)
    sizes = np.tile([0, 7, 0], len(x0))
    return go.Scatter(x=xs, y=ys, mode="lines+markers", name=name, showlegend=show_legend, hoverinfo="skip",
                      line={"width": 0.8, "color": colour},
                      marker={"symbol": "arrow", "angleref": "previous", "size": sizes, "color": colour})


def region(x: np.ndarray, y: np.ndarray, centre: int, count: int) -> np.ndarray:
    """Indices of the ``count`` points nearest to point ``centre`` in the 2-D map (itself first)."""
    d = np.hypot(x - x[centre], y - y[centre])
    return np.argsort(d, kind="stable")[:count]


def neighbour_changes(before: Sequence[int], after: Sequence[int], docids: Sequence[str],
                      titles: Sequence[str]) -> pd.DataFrame:
    """A passage's nearest neighbours before and after augmentation as one list: each neighbour
    with its rank before and after ("-": not among them) and what changed (``new``, ``left``,
    ``up k``, ``down k``, ``same``)."""
    rank_before = {p: i + 1 for i, p in enumerate(before)}
    rank_after = {p: i + 1 for i, p in enumerate(after)}
    rows = []
    for p in dict.fromkeys([*after, *before]):
        b, a = rank_before.get(p), rank_after.get(p)
        change = ("new" if b is None else "left" if a is None else "same" if a == b
                  else f"up {b - a}" if a < b else f"down {a - b}")
        rows.append({"docid": docids[p], "title": titles[p], "rank before": "-" if b is None else str(b),
                     "rank after": "-" if a is None else str(a), "change": change})
    return pd.DataFrame(rows, columns=NEIGHBOUR_COLUMNS)


def map_positions(points: pd.DataFrame, plm: str, alpha: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``umap.parquet``'s passages of one PLM before and after augmentation at ``alpha``, both
    indexed by passage and in the same order."""
    mine = points[points.plm == plm]
    before = mine[mine.kind == "passage"].set_index("passage")
    after = mine[(mine.kind == "augmented") & (np.abs(mine.alpha - alpha) < 1e-9)].set_index("passage")
    common = before.index.intersection(after.index)
    return before.loc[common], after.loc[common]


def shift_map(before: pd.DataFrame, after: pd.DataFrame, groups: pd.Series, docids: Sequence[str], scale: float,
              queries: pd.DataFrame | None, title: str) -> go.Figure:
    """The map: each group's passages (circles) with their arrows drawn ``scale`` times their
    length; ``queries`` (``umap.parquet``'s query rows) coloured by language when given."""
    fig = go.Figure()
    for i, name in enumerate(sorted(set(groups))):
        hue = GROUP_COLOURS[i % len(GROUP_COLOURS)]
        idx = groups.index[groups == name]
        fig.add_trace(go.Scattergl(x=before.loc[idx].x, y=before.loc[idx].y, mode="markers", name=name,
                                   legendgroup=name, marker={"size": 5, "color": hue, "opacity": 0.7},
                                   text=[docids[p] for p in idx], hovertemplate="%{text}<extra></extra>"))
        fig.add_trace(arrows_trace(before.loc[idx].x, before.loc[idx].y, after.loc[idx].x, after.loc[idx].y, scale,
                                   hue, name, show_legend=False).update(legendgroup=name))
    for lang in sorted(set(queries.lang)) if queries is not None else []:
        sub = queries[queries.lang == lang]
        fig.add_trace(go.Scattergl(x=sub.x, y=sub.y, mode="markers", name=f"query {lang}",
                                   marker={"size": 4, "symbol": "diamond", "color": LANG_COLOURS.get(lang)},
                                   text=[docids[p] for p in sub.passage],
                                   hovertemplate="query of %{text}<extra>" + lang + "</extra>"))
    return fig.update_layout(title=title, height=720, xaxis_title="UMAP 1", yaxis_title="UMAP 2",
                             legend={"orientation": "h", "yanchor": "top", "y": -0.1, "xanchor": "left", "x": 0})


def displacement_histogram(moved: np.ndarray, source: np.ndarray, title: str) -> go.Figure:
    """The distribution of ``1 - cos(p, p')`` per source, in percent of its passages."""
    frame = pd.DataFrame({"1 - cos(p, p')": moved, "source": source})
    fig = px.histogram(frame, x="1 - cos(p, p')", color="source", barmode="overlay", nbins=80, histnorm="percent",
                       color_discrete_sequence=PLM_COLOURS, title=title)
    return fig.update_layout(legend={"orientation": "h", "y": -0.2})


def zoom_figure(before: pd.DataFrame, after: pd.DataFrame, near: Sequence[int], chosen: int,
                docids: Sequence[str]) -> go.Figure:
    """The map passages ``near`` one passage (``chosen``, ringed), before and after, with their
    shifts at true length."""
    b, a = before.loc[list(near)], after.loc[list(near)]
    labels = [docids[p] for p in near]
    fig = go.Figure([
        go.Scatter(x=b.x, y=b.y, mode="markers", name="passage (before)", marker={"size": 7, "color": PLM_COLOURS[0]},
                   text=labels, hovertemplate="%{text}<extra>before</extra>"),
        go.Scatter(x=a.x, y=a.y, mode="markers", name="augmented (after)",
                   marker={"size": 7, "symbol": "x-thin-open", "color": PLM_COLOURS[1]}, text=labels,
                   hovertemplate="%{text}<extra>after</extra>"),
        arrows_trace(b.x, b.y, a.x, a.y, 1.0, "gray", "shift (true length)"),
        go.Scatter(x=[before.loc[chosen].x], y=[before.loc[chosen].y], mode="markers", name=docids[chosen],
                   marker={"size": 14, "symbol": "circle-open", "color": "black", "line": {"width": 2}})])
    return fig.update_layout(title=f"The {len(near)} map passages nearest to {docids[chosen]}, shifts at true length",
                             height=480, xaxis_title="UMAP 1", yaxis_title="UMAP 2", legend={"orientation": "h", "y": -0.2})
