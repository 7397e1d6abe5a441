"""The study's findings as Markdown, computed from ``cached_artifacts/`` alone
(``python -m xqg_core findings``): what the README reports, reproducible from the manifest.

For each PLM, at n = n_max and two alphas (the paper's 0.01 and the alpha > 0 with the best
macro R@2kt on xquad-xr, the ablation's second alpha):

- xquad-xr, R@2kt and R@5kt per language: baseline, xQG, the shuffled control, each gain
  with its p-value, and xQG - shuffled with the paired test between them;
- the generation-language ablation: the gain of each ``only-L`` / ``without-L`` variant over
  the baseline per query language, and its main pattern in numbers (the gain where the
  generation language is the query language against the mean gain elsewhere);
- pawsx-adv: the adversarial drop and adversarial Acc@1, xQG and shuffled against the baseline.

Every value in percent (points for differences); p: the grid's paired randomization test.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from xqg_core.explore.reports import markdown_table
from xqg_core.explore.tables import ablation_alphas, ablation_gains, controls_table, unsupported_of
from xqg_core.paper import PAPER_ALPHA
from xqg_core.retrieval.significance import SIGNIFICANCE_LEVEL
from xqg_core.study.artifacts import Artifacts


def best_alpha(res: pd.DataFrame, benchmark: str, plm: str, n: int, metric: str = "R@2kt", macro: str = "avg") -> float:
    """The grid alpha > 0 with the highest macro ``metric`` of xQG at ``n`` (the lowest among
    equals), even where no alpha > 0 beats the baseline: the best the augmentation does."""
    sub = res[(res.benchmark == benchmark) & (res.plm == plm) & (res.n == n) & (res.metric == metric)
              & (res.lang == macro) & (res.alpha > 0)]
    if "variant" in sub.columns:
        sub = sub[sub.variant == "xqg"]
    sub = sub.sort_values("alpha")
    return float(sub.alpha.iloc[int(np.argmax(sub.value.to_numpy()))])


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
    """Values to 2 decimals; p-values to 3 ("< 0.001": a 2,000-resample test gives 0.0005 at
    least), so that 0.049 and 0.051 read apart."""
    df = df.astype(float)
    out = df.round(2).astype(object)
    for c in df.columns:
        if c.endswith(" p"):
            out[c] = [p if not np.isfinite(p) else "< 0.001" if p < 0.001 else f"{p:.3f}" for p in df[c]]
    return out


def findings_markdown(arts: Artifacts) -> str:
    res_all = arts.results(variant=None)
    res = arts.results()
    n = arts.n_max
    marks = unsupported_of(arts)
    out = [f"# Findings of study `{arts.root.name}` (code {arts.manifest.get('code_version', '?')})", "",
           f"n = {n}; values in percent, differences in points; p: paired randomization test "
           f"({arts.manifest['significance']['resamples']:,} resamples), significant below {SIGNIFICANCE_LEVEL}."]
    for plm in arts.encoders:
        alphas = list(dict.fromkeys([PAPER_ALPHA, best_alpha(res, "xquad-xr", plm, n)]))
        unsupported = marks.get(plm, {}).get("xquad-xr", [])
        out += ["", f"## {plm}", ""]
        if unsupported:
            out.append(f"Not trained on: {', '.join(unsupported)} (`avg_supported` leaves them out).")
        for alpha in alphas:
            for metric in ("R@2kt", "R@5kt"):
                table = controls_table(res_all, "xquad-xr", plm, alpha, n, metric)
                if table.empty:
                    continue
                out += ["", f"### xquad-xr {metric}, alpha = {alpha:g}" + (" (best R@2kt)" if alpha != PAPER_ALPHA else ""),
                        "", markdown_table(rounded(table))]
        for alpha in ablation_alphas(res_all, "xquad-xr", plm):
            gains, p_values = ablation_gains(res_all, "xquad-xr", plm, alpha, "R@2kt")
            if gains.empty:
                continue
            starred = gains.round(2).astype(str) + np.where(p_values < SIGNIFICANCE_LEVEL, "*", "")
            only_same, only_other = diagonal_pattern(gains, "only-")
            without_same, without_other = diagonal_pattern(gains, "without-")
            out += ["", f"### Generation-language ablation, R@2kt gain over the baseline, alpha = {alpha:g}", "",
                    markdown_table(starred), "",
                    f"only-L: {only_same:+.2f} on questions in L, {only_other:+.2f} on the other languages; "
                    f"without-L: {without_same:+.2f} on questions in L, {without_other:+.2f} elsewhere (* p < "
                    f"{SIGNIFICANCE_LEVEL})."]
        for alpha in alphas:
            for metric in ("drop", "adv_acc1"):
                table = controls_table(res_all, "pawsx-adv", plm, alpha, n, metric)
                if not table.empty:
                    out += ["", f"### pawsx-adv {metric}, alpha = {alpha:g}", "", markdown_table(rounded(table))]
    return "\n".join(out) + "\n"
