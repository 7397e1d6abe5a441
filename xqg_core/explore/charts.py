"""The study's figures (plotly, no Streamlit), shared by the pages and the study report: one
colour-blind-safe colour per language (Okabe-Ito, then Paul Tol's muted scheme), the same on
every page and in every export; curves, the encoder-strength scatter, the ablation heatmap,
the controls' gains against alpha with their intervals."""
from __future__ import annotations

from typing import Sequence

import pandas as pd
import plotly.express as px

# Okabe & Ito (2008) for the seven generation languages, Tol's muted colours for PAWS-X's
# others and English; the macro rows in black and grey.
LANG_COLOURS = {
    "ar": "#E69F00", "de": "#56B4E9", "es": "#009E73", "hi": "#AA4499", "ru": "#0072B2", "vi": "#D55E00",
    "zh": "#CC79A7", "fr": "#882255", "ja": "#44AA99", "ko": "#999933", "en": "#332288",
    "avg": "#000000", "avg_supported": "#777777",
}
PLM_COLOURS = ["#0072B2", "#D55E00", "#009E73", "#CC79A7"]  # Okabe-Ito, one per encoder in the study's order


def strength_figure(strength: pd.DataFrame, n: int):
    """Each PLM's baseline R@2kt against xQG's gain at its dev-selected alpha, one point per PLM
    and language, the macro as a diamond, and the human upper bound's macro gain at its own
    dev-selected alpha as a star; error bars: the gain's 95% interval
    (:func:`xqg_core.explore.evidence.encoder_strength`)."""
    frame = strength[(strength.variant == "xqg") | (strength.lang == "avg")]
    kind = [("human upper bound, macro" if v == "human" else "xQG, macro" if lang == "avg" else "xQG, language")
            for v, lang in zip(frame.variant, frame.lang)]
    frame = frame.assign(kind=kind, label=[f"{p} {v} {lang} (alpha {a:g})" for p, v, lang, a in
                                           zip(frame.plm, frame.variant, frame.lang, frame.alpha)])
    fig = px.scatter(frame, x="baseline", y="gain", color="plm", symbol="kind", text="lang", hover_name="label",
                     symbol_map={"xQG, macro": "diamond", "xQG, language": "circle",
                                 "human upper bound, macro": "star"},
                     color_discrete_sequence=PLM_COLOURS,
                     error_y=frame.ci_high - frame.gain, error_y_minus=frame.gain - frame.ci_low,
                     labels={"baseline": "baseline R@2kt (%)", "gain": "gain at the dev-selected alpha (points)",
                             "kind": ""},
                     title=f"Encoder strength vs gain (test half, n = {n}; bars: 95% CI)")
    fig.add_hline(y=0, line_dash="dot", line_color="gray")
    fig.update_traces(textposition="top center")
    fig.update_layout(legend_title_text="")
    return fig


def line_figure(frame: pd.DataFrame, x: str, y: str, title: str, color: str | None = None,
                labels: dict[str, str] | None = None):
    """Lines with markers, one trace per value of ``color`` in order of appearance: what
    ``plotly.express.line`` draws, built directly (px costs ~45 ms a figure, this ~8 ms,
    and the Results page redraws on every slider step)."""
    import plotly.graph_objects as go

    labels = labels or {}
    groups = frame.groupby(color, sort=False) if color else [(None, frame)]
    colours = LANG_COLOURS if color == "lang" else {}  # a language keeps its colour on every page and export
    fig = go.Figure([go.Scatter(x=g[x], y=g[y], name=str(name) if name is not None else y, mode="lines+markers",
                                showlegend=name is not None, line={"color": colours.get(name)}) for name, g in groups])
    fig.update_layout(title=title, xaxis_title=labels.get(x, x), yaxis_title=labels.get(y, y),
                      legend_title=labels.get(color, color) if color else None)
    return fig


def ablation_heatmap(gains: pd.DataFrame, p_values: pd.DataFrame, unsupported: Sequence[str], title: str):
    """Gain per (variant, query language) with the numbers in the cells, * where p < 0.05,
    the p-value on hover; a diverging scale centred on 0."""
    import numpy as np
    import plotly.graph_objects as go

    from xqg_core.explore.tables import SIGNIFICANCE_LEVEL, mark_unsupported

    z = gains.to_numpy(dtype=float)
    p = p_values.to_numpy(dtype=float)
    text = [[f"{v:+.2f}{'*' if np.isfinite(pv) and pv < SIGNIFICANCE_LEVEL else ''}" if np.isfinite(v) else ""
             for v, pv in zip(zr, pr)] for zr, pr in zip(z, p)]
    top = float(np.nanmax(np.abs(z))) if np.isfinite(z).any() else 1.0
    fig = go.Figure(go.Heatmap(z=z.tolist(), x=mark_unsupported(gains.columns, unsupported), y=list(gains.index),
                               text=text, texttemplate="%{text}", customdata=p.tolist(), colorscale="RdBu", zmid=0,
                               zmin=-top, zmax=top, colorbar={"title": "points"},
                               hovertemplate="generated: %{y}<br>query language: %{x}<br>gain %{z:+.2f}"
                                             "<br>p = %{customdata:.3g}<extra></extra>"))
    fig.update_layout(title=title, xaxis_title="query language", yaxis_title="augmented with",
                      yaxis={"autorange": "reversed"}, height=120 + 28 * len(gains))
    return fig


# One colour per variant (Okabe-Ito), the same in every figure of the report.
VARIANT_COLOURS = {"xqg": "#0072B2", "shuffled": "#999999", "copy-only": "#E69F00", "no-copy": "#56B4E9",
                   "human": "#009E73"}


def _rgba(hex_colour: str, alpha: float) -> str:
    r, g, b = (int(hex_colour.lstrip("#")[i:i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r}, {g}, {b}, {alpha})"


def gain_bands_figure(frame: pd.DataFrame, group: str, title: str, colours: dict[str, str]):
    """Differences from the baseline against alpha, one line per value of ``group`` with its 95%
    interval as a shaded band. ``frame``: ``alpha, {group}, gain, ci_low, ci_high``."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for name, g in frame.sort_values("alpha").groupby(group, sort=False):
        colour = colours.get(name, "#444444")
        fig.add_trace(go.Scatter(x=list(g.alpha) + list(g.alpha[::-1]), y=list(g.ci_high) + list(g.ci_low[::-1]),
                                 fill="toself", fillcolor=_rgba(colour, 0.15), line={"width": 0}, hoverinfo="skip",
                                 showlegend=False, name=f"{name} 95% CI"))
        fig.add_trace(go.Scatter(x=g.alpha, y=g.gain, name=str(name), mode="lines+markers", line={"color": colour}))
    fig.add_hline(y=0, line_dash="dot", line_color="gray")
    fig.update_layout(title=title, xaxis_title="alpha", yaxis_title="difference from the baseline (points)")
    return fig
