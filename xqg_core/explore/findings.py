"""The study's findings as Markdown, computed from ``cached_artifacts/`` alone
(``python -m xqg_core findings``): what the README reports, reproducible from the manifest.

With Study v3's halves (``splits.parquet``), for each PLM at n = n_max: alpha selected on the
dev half of XQuAD's articles; on the test half at that alpha and at the paper's 0.01, per
language, xQG's difference from the baseline and every control's (shuffled, copy-only,
no-copy, the human upper bound), each with its bootstrap 95% interval and Holm-adjusted p,
the minimum detectable effect where nothing is significant, every metric; where xQG hurts;
the language ablation (whole question set); PAWS-X; the encoder-strength curve. A study built
before the halves gets the whole-set tables at the paper's alpha. No number is typed here:
every one is read from the artifacts.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from xqg_core.explore.evidence import (
    CONTROL_LABELS,
    OWN_ALPHA_VARIANTS,
    encoder_strength,
    evidence_table,
    has_halves,
    report_cells,
    significant,
)
from xqg_core.explore.reports import markdown_table, p_text
from xqg_core.explore.tables import ablation_alphas, ablation_gains, controls_table, unsupported_of
from xqg_core.paper import PAPER_ALPHA
from xqg_core.retrieval.cells import RETRIEVAL_METRICS
from xqg_core.retrieval.significance import SIGNIFICANCE_LEVEL
from xqg_core.study.artifacts import Artifacts


def diagonal_pattern(gains: pd.DataFrame, prefix: str) -> tuple[float, float]:
    """Mean gain of ``{prefix}L`` on query language L, and mean gain on the other query languages."""
    same, other = [], []
    for variant, row in gains.iterrows():
        if not variant.startswith(prefix):
            continue
        lang = variant[len(prefix):]
        for query_lang, gain in row.items():
            if query_lang.startswith("avg") or not np.isfinite(gain):
                continue
            (same if query_lang == lang else other).append(gain)
    return (float(np.mean(same)) if same else float("nan"), float(np.mean(other)) if other else float("nan"))


def rounded(df: pd.DataFrame) -> pd.DataFrame:
    """Values to 2 decimals; p-values (columns ending in ``p`` or ``p_adj``) as :func:`p_text`; alpha as written."""
    out = df.astype(float).round(2).astype(object)
    for c in df.columns:
        if c.endswith(" p") or c.endswith("p_adj"):
            out[c] = [p_text(p) for p in df[c].astype(float)]
        elif c == "alpha":  # grid values such as 0.0025 keep their digits
            out[c] = [f"{a:g}" for a in df[c].astype(float)]
    return out


def difference_text(delta: float, low: float, high: float, p: float) -> str:
    """``+0.42 [-0.10, +0.95] (p_adj 0.210)``."""
    return f"{delta:+.2f} [{low:+.2f}, {high:+.2f}] (p_adj {p_text(p)})"


def compact_tables(table: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """An :func:`evidence_table` as two readable tables: each variant's ``Δ [95% CI]`` over the
    baseline with its ``p_adj``; each control's difference from xQG with its interval and p."""
    over, versus = pd.DataFrame(index=table.index), pd.DataFrame(index=table.index)
    over["baseline"] = table["baseline"].map(lambda v: f"{v:.2f}")
    for name in ("xQG", *CONTROL_LABELS):
        if f"{name} Δ" not in table.columns:
            continue
        over[f"{name} Δ [95% CI]"] = [f"{d:+.2f} [{lo:+.2f}, {hi:+.2f}]" for d, lo, hi in
                                      zip(table[f"{name} Δ"], table[f"{name} Δ low"], table[f"{name} Δ high"])]
        over[f"{name} p_adj"] = table[f"{name} p_adj"].map(p_text)
        if f"{name} vs xQG" in table.columns:
            versus[f"{name} - xQG [95% CI]"] = [f"{d:+.2f} [{lo:+.2f}, {hi:+.2f}]" for d, lo, hi in zip(
                table[f"{name} vs xQG"], table[f"{name} vs xQG low"], table[f"{name} vs xQG high"])]
            versus[f"{name} vs xQG p"] = table[f"{name} vs xQG p"].map(p_text)
    return over, versus


def claim_lines(table: pd.DataFrame, name: str) -> list[str]:
    """Plain-words sentences about one variant's column group of an :func:`evidence_table`:
    its macro difference, the languages where it is significant after Holm, and (a control)
    its difference from xQG."""
    if f"{name} Δ" not in table.columns or "avg" not in table.index:
        return []
    row = table.loc["avg"]
    lines = [f"{name}, macro: {difference_text(row[f'{name} Δ'], row[f'{name} Δ low'], row[f'{name} Δ high'], row[f'{name} p_adj'])} points over the baseline."]
    langs = [lang for lang in table.index if not lang.startswith("avg")]

    def significant_in(sign: int) -> str:
        found = [lang for lang in langs if sign * table.at[lang, f"{name} Δ"] > 0 and significant(
            table.at[lang, f"{name} p_adj"], table.at[lang, f"{name} Δ low"], table.at[lang, f"{name} Δ high"])]
        return ", ".join(found) or "no language"

    lines.append(f"Significant after Holm: gains in {significant_in(1)}; losses in {significant_in(-1)}.")
    if f"{name} vs xQG" in table.columns:
        lines.append(f"Against xQG, macro: {row[f'{name} vs xQG']:+.2f} [{row[f'{name} vs xQG low']:+.2f}, "
                     f"{row[f'{name} vs xQG high']:+.2f}] (p {p_text(row[f'{name} vs xQG p'])}).")
    return lines


@dataclass
class AlphaEvidence:
    """The test half at one alpha: the evidence table and, per variant, its claims."""
    alpha: float
    label: str  # "dev-selected" or "the paper's"
    table: pd.DataFrame  # :func:`evidence_table`, R@2kt
    claims: dict[str, list[str]]  # variant label -> :func:`claim_lines`
    mde: float  # xQG's macro minimum detectable effect (points)


@dataclass
class PlmFindings:
    """One PLM's answer on the test half at n = n_max."""
    plm: str
    n: int
    selected_alpha: float
    at: list[AlphaEvidence]
    metrics: dict[str, str]  # metric -> xQG's macro difference text at the selected alpha
    hurt: list[str]  # metrics with a significant macro loss


def plm_findings(arts: Artifacts, plm: str, n: int, splits: pd.DataFrame) -> PlmFindings:
    """Alpha selected on the dev half; at it and at the paper's 0.01 the test half's evidence
    (xQG and every control with intervals and p_adj); every metric; where xQG hurts."""
    test = splits[splits.split == "test"]
    at = []
    for alpha, label, variants in report_cells(splits, "xquad-xr", plm, n, arts.manifest["config"]["alphas"]):
        table = evidence_table(test, "xquad-xr", plm, alpha, n, "R@2kt", variants)
        if table.empty:
            continue
        mde = test[(test.plm == plm) & (test.variant == "xqg") & np.isclose(test.alpha, alpha) & (test.n == n)
                   & (test.metric == "R@2kt") & (test.lang == "avg")].mde
        at.append(AlphaEvidence(alpha, label, table,
                                {name: claim_lines(table, name)
                                 for name in ("xQG", *[v for v in CONTROL_LABELS if v in table.columns])},
                                float(mde.iloc[0]) if len(mde) else float("nan")))
    selected = at[0].alpha
    metrics, hurt = {}, []
    for metric in RETRIEVAL_METRICS:
        t = evidence_table(test, "xquad-xr", plm, selected, n, metric, ("xqg",))
        if t.empty or "avg" not in t.index:
            continue
        r = t.loc["avg"]
        metrics[metric] = difference_text(r["xQG Δ"], r["xQG Δ low"], r["xQG Δ high"], r["xQG p_adj"])
        if r["xQG Δ"] < 0 and significant(r["xQG p_adj"], r["xQG Δ low"], r["xQG Δ high"]):
            hurt.append(metric)
    return PlmFindings(plm, n, selected, at, metrics, hurt)


def _plm_v3(found: PlmFindings) -> list[str]:
    out = [f"Alpha selected on the dev half (best macro R@2kt at n = {found.n}): **{found.selected_alpha:g}**."]
    for ev in found.at:
        out += ["", f"### Test half, R@2kt, alpha = {ev.alpha:g} ({ev.label})", ""]
        for lines in ev.claims.values():
            out += [f"- {lines[0]}"] + [f"  {line}" for line in lines[1:]]
        if np.isfinite(ev.mde):
            out.append(f"- The test half detects a macro difference of {ev.mde:.2f} points with 80% power "
                       "(a smaller true effect may pass unseen).")
        over, versus = compact_tables(ev.table)
        out += ["", markdown_table(over)] + (["", markdown_table(versus)] if not versus.empty else [])
    out += ["", f"### Every metric, xQG vs baseline, test half, alpha = {found.selected_alpha:g}", ""]
    out += [f"- {metric}: {text}" for metric, text in found.metrics.items()]
    out.append(f"- Where xQG hurts (significant macro loss): {', '.join(found.hurt) or 'no metric'}.")
    return out


def ablation_findings(res_all: pd.DataFrame, plm: str) -> list[tuple[float, pd.DataFrame, pd.DataFrame, str]]:
    """Per ablation alpha: the R@2kt gains (variant x query language), their raw p-values, and the
    diagonal pattern in words (only-L / without-L on questions in L against the other languages)."""
    out = []
    for alpha in ablation_alphas(res_all, "xquad-xr", plm):
        gains, p_values = ablation_gains(res_all, "xquad-xr", plm, alpha, "R@2kt")
        if gains.empty:
            continue
        only_same, only_other = diagonal_pattern(gains, "only-")
        without_same, without_other = diagonal_pattern(gains, "without-")
        out.append((alpha, gains, p_values,
                    f"only-L: {only_same:+.2f} on questions in L, {only_other:+.2f} on the other languages; "
                    f"without-L: {without_same:+.2f} on questions in L, {without_other:+.2f} elsewhere"))
    return out


def _ablation(res_all: pd.DataFrame, plm: str) -> list[str]:
    out = []
    for alpha, gains, p_values, pattern in ablation_findings(res_all, plm):
        starred = gains.round(2).astype(str) + np.where(p_values < SIGNIFICANCE_LEVEL, "*", "")
        out += ["", f"### Generation-language ablation (whole question set), R@2kt gain over the baseline, "
                f"alpha = {alpha:g}", "", markdown_table(starred), "",
                f"{pattern} (* raw p < {SIGNIFICANCE_LEVEL})."]
    return out


def strength_table(macro: pd.DataFrame) -> pd.DataFrame:
    """The macro rows of :func:`encoder_strength` (indexed by plm and variant) for reading: one row
    per PLM and variant, values rounded, p as :func:`p_text`."""
    numbers = rounded(macro[["alpha", "baseline", "gain", "ci_low", "ci_high", "p_adj"]])
    return numbers.reset_index().set_index("plm")


def findings_markdown(arts: Artifacts) -> str:
    res_all = arts.results(variant=None)
    splits = arts.splits()
    n = arts.n_max
    marks = unsupported_of(arts)
    halves = has_halves(splits)
    out = [f"# Findings of study `{arts.root.name}` (code {arts.manifest.get('code_version', '?')})", "",
           f"n = {n}; values in percent, differences in points; p: paired randomization test "
           f"({arts.manifest['significance']['resamples']:,} resamples)" +
           ("; [low, high]: paired bootstrap 95% interval; p_adj: Holm over the languages of a cell; "
            "alpha selected on the dev half of XQuAD's articles, every number below it from the test half."
            if halves else "; this study has no dev/test halves, so its tables cover every question at "
                           f"the paper's alpha {PAPER_ALPHA:g} only.")]
    if halves:
        strength = encoder_strength(splits, "xquad-xr", n, arts.encoders, ("xqg", *OWN_ALPHA_VARIANTS))
        macro = strength[strength.lang == "avg"].set_index(["plm", "variant"])
        out += ["", "## Encoder strength and the gain (test half; xQG and the human upper bound, each at its own "
                "alpha selected on the dev half)", "",
                markdown_table(strength_table(macro))]
        edge = macro[macro.at_grid_edge]
        if len(edge):
            out.append("")
            out.append("At the grid's largest alpha (a larger one may do better): " +
                       ", ".join(f"{p} {v}" for p, v in edge.index) + ".")
    for plm in arts.encoders:
        unsupported = marks.get(plm, {}).get("xquad-xr", [])
        out += ["", f"## {plm}", ""]
        if unsupported:
            out.append(f"Not trained on: {', '.join(unsupported)} (`avg_supported` leaves them out).")
        if halves:
            out += _plm_v3(plm_findings(arts, plm, n, splits))
        else:
            for metric in ("R@2kt", "R@5kt"):
                table = controls_table(res_all, "xquad-xr", plm, PAPER_ALPHA, n, metric)
                if not table.empty:
                    out += ["", f"### xquad-xr {metric}, alpha = {PAPER_ALPHA:g}", "", markdown_table(rounded(table))]
        out += _ablation(res_all, plm)
        for metric in ("drop", "adv_acc1"):
            table = controls_table(res_all, "pawsx-adv", plm, PAPER_ALPHA, n, metric)
            if not table.empty:
                out += ["", f"### pawsx-adv {metric}, alpha = {PAPER_ALPHA:g} (every item)", "",
                        markdown_table(rounded(table))]
    return "\n".join(out) + "\n"
