"""Cuts of ``results.parquet`` the views show: cells, comparisons, controls, ablation, curves, headline.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd

from xqg_core.retrieval.cells import PAWSX_METRICS, RETRIEVAL_METRICS
from xqg_core.retrieval.significance import SIGNIFICANCE_LEVEL
from xqg_core.study.artifacts import Artifacts

BENCHMARK_METRICS = {"xquad-xr": RETRIEVAL_METRICS, "xor-retrieve": RETRIEVAL_METRICS, "pawsx-adv": PAWSX_METRICS}


def nearest_alpha(alphas: Sequence[float], alpha: float) -> float:
    """The grid value closest to ``alpha``."""
    return min(alphas, key=lambda a: abs(a - alpha))


def cell_frame(res: pd.DataFrame, benchmark: str, plm: str, alpha: float, n: int) -> pd.DataFrame:
    """The rows of one grid cell (alpha matched to 1e-9)."""
    return res[(res.benchmark == benchmark) & (res.plm == plm) & (np.abs(res.alpha - alpha) < 1e-9) & (res.n == n)]


def significance_marker(delta: float, p: float, level: float = SIGNIFICANCE_LEVEL) -> str:
    """"▲" / "▼" when the difference is significant at ``level``, else ""."""
    if not np.isfinite(p) or p >= level or not delta:
        return ""
    return "▲" if delta > 0 else "▼"


MACRO_ROWS = ("avg", "avg_supported")  # over every language / over the PLM's supported languages


def comparison_table(base: pd.DataFrame, cell: pd.DataFrame, metrics: Sequence[str]) -> pd.DataFrame:
    """Per language (rows, the macro rows ``avg`` and ``avg_supported`` last): baseline, xQG,
    delta, p-value, Holm-adjusted ``p_adj`` and significance marker (on ``p_adj``) of each metric.

    ``p_adj`` is the study's (Study v3 stores it for xquad-xr); where a cell has none, Holm over
    its language rows is applied here, the same rule (:func:`holm_p`)."""
    langs = list(dict.fromkeys(cell.lang))
    langs = [lang for lang in langs if lang not in MACRO_ROWS] + [m for m in MACRO_ROWS if m in langs]
    b = base.set_index(["lang", "metric"]).value
    c = cell.set_index(["lang", "metric"])
    out = pd.DataFrame(index=pd.Index(langs, name="lang"))
    for m in metrics:
        if (langs[0] if langs else None, m) not in c.index:
            continue
        out[f"{m} base"] = [b.get((lang, m), np.nan) for lang in langs]
        out[f"{m} xQG"] = [c.value.get((lang, m), np.nan) for lang in langs]
        out[f"{m} Δ"] = out[f"{m} xQG"] - out[f"{m} base"]
        out[f"{m} p"] = [c.p_value.get((lang, m), np.nan) for lang in langs]
        stored = [c.p_adj.get((lang, m), np.nan) for lang in langs] if "p_adj" in c.columns else []
        out[f"{m} p_adj"] = stored if not np.all(np.isnan(stored)) else holm_p(langs, out[f"{m} p"].to_numpy())
        out[f"{m} sig"] = [significance_marker(d, p) for d, p in zip(out[f"{m} Δ"], out[f"{m} p_adj"])]
    return out


def holm_p(langs: Sequence[str], p_values: np.ndarray) -> np.ndarray:
    """Holm over the language rows of one cell and metric; the macro rows keep their own p
    (as :func:`xqg_core.study.intervals.add_intervals` stores it)."""
    from xqg_core.retrieval.uncertainty import holm_adjust

    out = np.asarray(p_values, dtype=np.float64).copy()
    rows = np.array([lang not in MACRO_ROWS for lang in langs], dtype=bool)
    out[rows] = holm_adjust(out[rows])
    return out


UNSUPPORTED_MARK = " †"


def unsupported_of(arts: Artifacts) -> dict[str, dict[str, list[str]]]:
    """Per PLM and benchmark, the query languages the PLM was not trained on: the manifest's
    list, or (artifacts built before it was recorded) the encoder registry's."""
    if "unsupported_languages" in arts.manifest:
        return arts.manifest["unsupported_languages"]
    from xqg_core.study.artifacts import artifact_config, unsupported_languages

    return unsupported_languages(artifact_config(arts))


def mark_unsupported(langs: Sequence[str], unsupported: Sequence[str]) -> list[str]:
    """Language labels with " †" on those the PLM was not trained on."""
    return [f"{lang}{UNSUPPORTED_MARK}" if lang in unsupported else lang for lang in langs]


def controls_table(res_all: pd.DataFrame, benchmark: str, plm: str, alpha: float, n: int, metric: str) -> pd.DataFrame:
    """Per language (macro rows last): baseline, xQG, the shuffled control (each passage
    augmented with another passage's queries), each gain over the baseline with its p-value,
    and xQG - shuffled with the paired test between them (``p_vs_xqg``). ``res_all``: every
    variant's rows (:meth:`Artifacts.results` with ``variant=None``); empty when the study
    has no shuffled control."""
    if "variant" not in res_all.columns:
        return pd.DataFrame()
    sub = res_all[(res_all.benchmark == benchmark) & (res_all.plm == plm) & (res_all.n == n)
                  & (res_all.metric == metric)]
    xqg = sub[sub.variant == "xqg"]
    shuffled = sub[(sub.variant == "shuffled") & (np.abs(sub.alpha - alpha) < 1e-9)].set_index("lang")
    if shuffled.empty:
        return pd.DataFrame()
    base = xqg[xqg.alpha == 0].set_index("lang")
    cell = xqg[np.abs(xqg.alpha - alpha) < 1e-9].set_index("lang")
    langs = [lang for lang in dict.fromkeys(cell.index) if lang not in MACRO_ROWS] + [m for m in MACRO_ROWS if m in cell.index]
    out = pd.DataFrame(index=pd.Index(langs, name="lang"))
    out["baseline"] = base.value.reindex(langs)
    out["xQG"] = cell.value.reindex(langs)
    out["xQG Δ"] = out["xQG"] - out["baseline"]
    out["xQG p"] = cell.p_value.reindex(langs)
    out["shuffled"] = shuffled.value.reindex(langs)
    out["shuffled Δ"] = out["shuffled"] - out["baseline"]
    out["shuffled p"] = shuffled.p_value.reindex(langs)
    out["xQG - shuffled"] = out["xQG"] - out["shuffled"]
    out["xQG vs shuffled p"] = shuffled.p_vs_xqg.reindex(langs)
    return out


def ablation_alphas(res_all: pd.DataFrame, benchmark: str, plm: str) -> list[float]:
    """The alphas at which the generation-language ablation was run (none: an empty list)."""
    if "variant" not in res_all.columns:
        return []
    sub = res_all[(res_all.benchmark == benchmark) & (res_all.plm == plm)
                  & res_all.variant.fillna("").str.match(r"^(only|without)-")]
    return sorted(set(sub.alpha.tolist()))


def ablation_gains(res_all: pd.DataFrame, benchmark: str, plm: str, alpha: float, metric: str,
                   versus: str = "baseline") -> tuple[pd.DataFrame, pd.DataFrame]:
    """The generation-language ablation as two matrices, rows = variants (``only-L``,
    ``without-L``), columns = query languages and macro rows: the variant's gain in
    ``metric`` over the baseline (alpha = 0) or over full xQG at the same (alpha, n_max)
    (``versus="xqg"``), and the p-value of that comparison (the grid's paired test)."""
    sub = res_all[(res_all.benchmark == benchmark) & (res_all.plm == plm) & (res_all.metric == metric)]
    variants = sub[sub.variant.fillna("").str.match(r"^(only|without)-") & (np.abs(sub.alpha - alpha) < 1e-9)]
    if variants.empty:
        return pd.DataFrame(), pd.DataFrame()
    n = int(variants.n.iloc[0])
    xqg = sub[sub.variant == "xqg"]
    reference = (xqg[(xqg.alpha == 0) & (xqg.n == n)] if versus == "baseline"
                 else xqg[(np.abs(xqg.alpha - alpha) < 1e-9) & (xqg.n == n)]).set_index("lang").value
    langs = [lang for lang in dict.fromkeys(variants.lang) if lang not in MACRO_ROWS] + \
            [m for m in MACRO_ROWS if m in set(variants.lang)]
    order = sorted(dict.fromkeys(variants.variant), key=lambda v: (not v.startswith("only-"), v))
    value = variants.pivot_table(index="variant", columns="lang", values="value").reindex(index=order, columns=langs)
    p = variants.pivot_table(index="variant", columns="lang",
                             values="p_value" if versus == "baseline" else "p_vs_xqg").reindex(index=order, columns=langs)
    return value - reference.reindex(langs).to_numpy()[None, :], p


def without_redundant_macro(curve: pd.DataFrame) -> pd.DataFrame:
    """``avg_supported`` left out where it equals ``avg`` everywhere (a PLM trained on every
    language): one line, not two drawn on top of each other."""
    avg, own = curve[curve.lang == "avg"].value.to_numpy(), curve[curve.lang == "avg_supported"].value.to_numpy()
    if len(own) and len(avg) == len(own) and np.allclose(avg, own, equal_nan=True):
        return curve[curve.lang != "avg_supported"].reset_index(drop=True)
    return curve


def alpha_curve(res: pd.DataFrame, benchmark: str, plm: str, n: int, metric: str) -> pd.DataFrame:
    """``alpha, lang, value`` for one PLM and n (``avg_supported`` only where it differs from ``avg``)."""
    sub = res[(res.benchmark == benchmark) & (res.plm == plm) & (res.n == n) & (res.metric == metric)]
    return without_redundant_macro(sub[["alpha", "lang", "value", "p_value"]].sort_values(["lang", "alpha"])
                                   .reset_index(drop=True))


def n_curve(res: pd.DataFrame, benchmark: str, plm: str, alpha: float, metric: str) -> pd.DataFrame:
    """``n, lang, value`` at one alpha (``avg_supported`` only where it differs from ``avg``)."""
    sub = res[(res.benchmark == benchmark) & (res.plm == plm) & (np.abs(res.alpha - alpha) < 1e-9)
              & (res.metric == metric)]
    return without_redundant_macro(sub[["n", "lang", "value", "p_value"]].sort_values(["lang", "n"])
                                   .reset_index(drop=True))


def plm_comparison(res: pd.DataFrame, benchmark: str, alpha: float, n: int, metric: str) -> pd.DataFrame:
    """``plm, lang, baseline, xQG`` at one (alpha, n)."""
    sub = res[(res.benchmark == benchmark) & (res.n == n) & (res.metric == metric)]
    base = sub[sub.alpha == 0].set_index(["plm", "lang"]).value.rename("baseline")
    aug = sub[np.abs(sub.alpha - alpha) < 1e-9].set_index(["plm", "lang"]).value.rename("xQG")
    return pd.concat([base, aug], axis=1).reset_index()


@dataclass
class Headline:
    """A headline macro value at one cell against the baseline: the difference's interval and
    p (Holm's ``p_adj`` where the study stores it; a macro row's p_adj is its own p)."""
    baseline: float
    value: float
    ci_low: float = float("nan")
    ci_high: float = float("nan")
    p: float = float("nan")

    @property
    def delta(self) -> float:
        return self.value - self.baseline

    @property
    def significant(self) -> bool:
        return bool(np.isfinite(self.p) and self.p < SIGNIFICANCE_LEVEL)


def headline(res: pd.DataFrame, plm: str, alpha: float, n: int, macro: str = "avg") -> dict[str, Headline]:
    """Macro averages of the headline metrics at one (PLM, alpha, n) against the baseline;
    ``macro``: ``avg`` (every language) or ``avg_supported`` (the PLM's own languages)."""
    out = {}
    for benchmark, metric in (("xquad-xr", "R@2kt"), ("xquad-xr", "R@5kt"), ("pawsx-adv", "drop")):
        sub = res[(res.benchmark == benchmark) & (res.plm == plm) & (res.n == n) & (res.metric == metric)
                  & (res.lang == macro)]
        base, cell = sub[sub.alpha == 0], sub[np.abs(sub.alpha - alpha) < 1e-9]
        if len(base) and len(cell):
            row = cell.iloc[0]
            p = row.get("p_adj", np.nan)
            out[f"{benchmark} {metric}"] = Headline(float(base.value.iloc[0]), float(row.value),
                                                    float(row.get("ci_low", np.nan)), float(row.get("ci_high", np.nan)),
                                                    float(p if np.isfinite(p) else row.p_value))
    return out
