"""Figures shared by the pages: one colour-blind-safe colour per language (Okabe-Ito, then
Paul Tol's muted scheme), the same on every page and in every export, and the
encoder-strength scatter that Results and Findings both draw."""
from __future__ import annotations

import pandas as pd
import plotly.express as px

# Okabe & Ito (2008) for the seven generation languages, Tol's muted colours for PAWS-X's
# others and English; the macro rows in black and grey.
LANG_COLOURS = {
    "ar": "#E69F00", "de": "#56B4E9", "es": "#009E73", "hi": "#AA4499", "ru": "#0072B2", "vi": "#D55E00",
    "zh": "#CC79A7", "fr": "#882255", "ja": "#44AA99", "ko": "#999933", "en": "#332288",
    "avg": "#000000", "avg_supported": "#777777",
}


def strength_figure(strength: pd.DataFrame, n: int):
    """Each PLM's baseline R@2kt against xQG's gain at its dev-selected alpha, one point per PLM
    and language (the macro as a diamond), with the gain's 95% interval as error bars
    (:func:`xqg_core.explore.evidence.encoder_strength`)."""
    frame = strength.assign(label=[f"{p} {lang}" for p, lang in zip(strength.plm, strength.lang)],
                            kind=strength.lang.eq("avg").map({True: "macro", False: "language"}))
    fig = px.scatter(frame, x="baseline", y="gain", color="plm", symbol="kind", text="lang", hover_name="label",
                     symbol_map={"macro": "diamond", "language": "circle"},
                     error_y=frame.ci_high - frame.gain, error_y_minus=frame.gain - frame.ci_low,
                     labels={"baseline": "baseline R@2kt (%)", "gain": "xQG gain at the dev-selected alpha (points)",
                             "kind": ""},
                     title=f"Encoder strength vs xQG gain (test half, n = {n}; bars: 95% CI)")
    fig.add_hline(y=0, line_dash="dot", line_color="gray")
    fig.update_traces(textposition="top center")
    return fig
