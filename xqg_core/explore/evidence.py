"""Study v3's answer, cut from ``results.parquet`` and ``splits.parquet``: alpha selected on the
dev half, the test half's differences with their intervals and Holm-adjusted p-values, every
control beside xQG, the encoder-strength curve. Pure functions over the tables; no Streamlit.

Differences are in points; ``ci``: the paired bootstrap 95% interval; ``p_adj``: Holm over the
languages of a cell (a macro row: its own p). A control's ``vs xQG`` columns are its difference
from xQG's same cell (a negative value: xQG does better than the control).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from xqg_core.explore.tables import MACRO_ROWS
from xqg_core.paper import PAPER_ALPHA
from xqg_core.retrieval.significance import SIGNIFICANCE_LEVEL
from xqg_core.study.intervals import selected_alpha

CONTROL_ORDER = ("shuffled", "copy-only", "no-copy", "human")
CONTROL_LABELS = {
    "shuffled": "shuffled (another passage's queries)",
    "copy-only": "copy-only (only the words copied from the passage)",
    "no-copy": "no-copy (the copied words removed)",
    "human": "human (real XQuAD questions of the other fold: an optimistic upper bound)",
}


# The upper bound is not a control of xQG's alpha: real questions are a different signal, with
# their own best mixing weight (the dev half selects it like xQG's).
OWN_ALPHA_VARIANTS = ("human",)


def has_halves(splits: pd.DataFrame | None) -> bool:
    return splits is not None and not splits.empty


def dev_selected_alpha(splits: pd.DataFrame, benchmark: str, plm: str, n: int, variant: str = "xqg") -> float:
    """The alpha > 0 with the best dev-half macro R@2kt of ``variant`` at ``n``."""
    sub = splits[(splits.benchmark == benchmark) & (splits.plm == plm) & (splits.split == "dev")
                 & (splits.variant == variant) & (splits.n == n) & (splits.metric == "R@2kt") & (splits.lang == "avg")]
    return selected_alpha(sub.to_dict("records"), variant, n)


def report_alphas(splits: pd.DataFrame, benchmark: str, plm: str, n: int, alphas: Sequence[float]) -> list[float]:
    """The alphas the study reports: the dev-selected one, then the paper's 0.01 (when on the grid)."""
    chosen = [dev_selected_alpha(splits, benchmark, plm, n)]
    return list(dict.fromkeys(chosen + [a for a in (PAPER_ALPHA,) if any(abs(a - b) < 1e-9 for b in alphas)]))


def report_cells(splits: pd.DataFrame, benchmark: str, plm: str, n: int,
                 alphas: Sequence[float]) -> list[tuple[float, str, tuple[str, ...]]]:
    """``(alpha, label, variants)`` of each test-half table the study reports for a PLM: xQG's
    dev-selected alpha and the paper's with every control, then each upper bound at its own
    dev-selected alpha beside xQG (where that alpha is another; ``label`` says when it is the
    grid's largest, so that a better one may lie beyond)."""
    chosen = report_alphas(splits, benchmark, plm, n, alphas)
    out = [(a, "dev-selected" if a == chosen[0] else "the paper's", ("xqg", *CONTROL_ORDER)) for a in chosen]
    for variant in OWN_ALPHA_VARIANTS:
        if not (splits.variant == variant).any():
            continue
        own = dev_selected_alpha(splits, benchmark, plm, n, variant)
        if own not in chosen:
            edge = ", the grid's largest" if own >= max(alphas) - 1e-12 else ""
            out.append((own, f"{variant}'s own dev-selected alpha{edge}", ("xqg", variant)))
    return out


def _cell(frame: pd.DataFrame, benchmark: str, plm: str, variant: str, alpha: float, n: int, metric: str) -> pd.DataFrame:
    sub = frame[(frame.benchmark == benchmark) & (frame.plm == plm) & (frame.variant == variant)
                & (np.abs(frame.alpha - alpha) < 1e-9) & (frame.n == n) & (frame.metric == metric)]
    return sub.set_index("lang")


def ordered_langs(index: Sequence[str]) -> list[str]:
    langs = list(dict.fromkeys(index))
    return [lang for lang in langs if lang not in MACRO_ROWS] + [m for m in MACRO_ROWS if m in langs]


def evidence_table(frame: pd.DataFrame, benchmark: str, plm: str, alpha: float, n: int, metric: str,
                   variants: Sequence[str] = ("xqg", *CONTROL_ORDER)) -> pd.DataFrame:
    """Per language (macro rows last) on one table (``splits`` filtered to the test half, or the
    whole-set ``results``): the baseline, then for each variant its value, ``Δ`` over the baseline
    with its interval and ``p_adj``; for a control also ``vs xQG`` (its value minus xQG's) with
    its interval and p. Variants the study does not hold are left out."""
    base = _cell(frame, benchmark, plm, "xqg", 0.0, n, metric)
    if base.empty:
        return pd.DataFrame()
    langs = ordered_langs(base.index)
    out = pd.DataFrame(index=pd.Index(langs, name="lang"))
    out["baseline"] = base.value.reindex(langs)
    xqg = _cell(frame, benchmark, plm, "xqg", alpha, n, metric)
    for variant in variants:
        cell = _cell(frame, benchmark, plm, variant, alpha, n, metric)
        if cell.empty:
            continue
        name = "xQG" if variant == "xqg" else variant
        out[name] = cell.value.reindex(langs)
        out[f"{name} Δ"] = out[name] - out["baseline"]
        for column, label in (("ci_low", "low"), ("ci_high", "high"), ("p_adj", "p_adj")):
            if column in cell.columns:
                out[f"{name} Δ {label}" if label != "p_adj" else f"{name} p_adj"] = cell[column].reindex(langs)
        if variant != "xqg" and not xqg.empty:
            out[f"{name} vs xQG"] = out[name] - xqg.value.reindex(langs)
            for column, label in (("vs_xqg_ci_low", "low"), ("vs_xqg_ci_high", "high"), ("p_vs_xqg", "p")):
                if column in cell.columns:
                    out[f"{name} vs xQG {label}"] = cell[column].reindex(langs)
    return out


def significant(p: float, low: float, high: float, level: float = SIGNIFICANCE_LEVEL) -> bool:
    """Significant after adjustment: ``p < level`` (the interval then excludes 0 too, up to resampling)."""
    return bool(np.isfinite(p) and p < level and np.isfinite(low) and np.isfinite(high))


def encoder_strength(splits: pd.DataFrame, benchmark: str, n: int, plms: Sequence[str],
                     variants: Sequence[str] = ("xqg",)) -> pd.DataFrame:
    """One row per PLM, variant and language (and macro ``avg``) on the test half: the baseline
    R@2kt and the variant's gain at its dev-selected alpha (xQG's own; the human upper bound's
    own), with its interval and p_adj: the weak-to-strong curve of the augmentation's effect.
    ``at_grid_edge``: the selected alpha is the grid's largest (a better one may lie beyond)."""
    rows = []
    test = splits[splits.split == "test"]
    for plm in plms:
        for variant in variants:
            if not (splits.variant == variant).any():
                continue
            alpha = dev_selected_alpha(splits, benchmark, plm, n, variant)
            edge = alpha >= splits[(splits.plm == plm) & (splits.variant == variant)].alpha.max() - 1e-12
            base, cell = _cell(test, benchmark, plm, "xqg", 0.0, n, "R@2kt"), _cell(test, benchmark, plm, variant,
                                                                                    alpha, n, "R@2kt")
            for lang in ordered_langs(cell.index):
                if lang == "avg_supported":
                    continue
                rows.append({"plm": plm, "variant": variant, "lang": lang, "alpha": alpha, "at_grid_edge": bool(edge),
                             "baseline": base.value.get(lang, np.nan),
                             "gain": cell.value.get(lang, np.nan) - base.value.get(lang, np.nan),
                             "ci_low": cell.ci_low.get(lang, np.nan), "ci_high": cell.ci_high.get(lang, np.nan),
                             "p_adj": cell.p_adj.get(lang, np.nan)})
    return pd.DataFrame(rows)
