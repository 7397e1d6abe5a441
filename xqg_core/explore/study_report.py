"""The study as one self-contained HTML file (``python -m xqg_core report --output study.html``,
and the Findings page's button), and a PDF of it printed by Debian's chromium (``--pdf``).

The file opens offline: plotly.js is inlined once, no script, font or image is fetched. It
holds what produced the study (created, code version, the inputs' fingerprint, the config's
hash, generator, encoders), the findings (:func:`xqg_core.explore.findings.findings_markdown`:
every number read from the artifacts), figures in colour per PLM (xQG and every control
against alpha on the test half with 95% bands; R@2kt of each language against alpha; the
language ablation; the PAWS-X drop against alpha) and the deviations from the paper. Every
text is escaped.
"""
from __future__ import annotations

import hashlib
import html
import json
import subprocess
import tempfile
from pathlib import Path

import pandas as pd

from xqg_core.errors import XqgError
from xqg_core.explore import charts
from xqg_core.explore.evidence import OWN_ALPHA_VARIANTS, dev_selected_alpha, encoder_strength, has_halves
from xqg_core.explore.findings import findings_markdown
from xqg_core.explore.reports import REPORT_STYLE, markdown_html
from xqg_core.explore.tables import ablation_alphas, ablation_gains, alpha_curve, unsupported_of
from xqg_core.study.artifacts import Artifacts

CHROMIUM = "/usr/bin/chromium"


def provenance(arts: Artifacts) -> list[tuple[str, str]]:
    """What produced the study, from its manifest."""
    m = arts.manifest
    config_hash = hashlib.sha1(json.dumps(m["config"], sort_keys=True).encode("utf-8")).hexdigest()
    return [("created", str(m.get("created", "?"))), ("code version", str(m.get("code_version", "?"))),
            ("inputs fingerprint", str(m.get("inputs_fingerprint", "?"))), ("config sha1", config_hash),
            ("generator", str(m.get("models", {}).get("generator", {}).get("name", "?"))),
            ("encoders", ", ".join(arts.encoders)), ("schema", str(m.get("schema_version", "?")))]


def test_half_gains(splits: pd.DataFrame, plm: str, n: int, variants) -> pd.DataFrame:
    """``alpha, variant, gain, ci_low, ci_high``: each variant's macro R@2kt difference from the
    baseline on the test half, against alpha."""
    test = splits[(splits.split == "test") & (splits.plm == plm) & (splits.n == n) & (splits.metric == "R@2kt")
                  & (splits.lang == "avg") & (splits.benchmark == "xquad-xr")]
    base = float(test[(test.variant == "xqg") & (test.alpha == 0)].value.iloc[0])
    sub = test[test.variant.isin(variants)]
    return sub.assign(gain=sub.value - base)[["alpha", "variant", "gain", "ci_low", "ci_high"]]


def plm_figures(arts: Artifacts, plm: str, splits: pd.DataFrame | None) -> list:
    """The figures of one PLM, in the order the report shows them."""
    n = arts.n_max
    res, res_all = arts.results(), arts.results(variant=None)
    figures = []
    if has_halves(splits):
        gains = test_half_gains(splits, plm, n, list(charts.VARIANT_COLOURS))
        figures.append(charts.gain_bands_figure(gains, "variant", f"{plm}: R@2kt difference from the baseline against "
                                                f"alpha, test half, n = {n} (bands: 95% CI)", charts.VARIANT_COLOURS))
    whole = res[(res.benchmark == "xquad-xr") & (res.plm == plm) & (res.n == n) & (res.metric == "R@2kt")]
    if "ci_low" in whole.columns and whole.ci_low.notna().any():
        base = whole[whole.alpha == 0].set_index("lang").value
        per_lang = whole[whole.lang != "avg_supported"].assign(gain=lambda f: f.value - f.lang.map(base))
        figures.append(charts.gain_bands_figure(per_lang, "lang", f"{plm}: xQG's R@2kt difference per language against "
                                                f"alpha, every question, n = {n} (bands: 95% CI)", charts.LANG_COLOURS))
    ab = ablation_alphas(res_all, "xquad-xr", plm)
    if ab:
        alpha = dev_selected_alpha(splits, "xquad-xr", plm, n) if has_halves(splits) else ab[0]
        alpha = min(ab, key=lambda a: abs(a - alpha))
        gains, p_values = ablation_gains(res_all, "xquad-xr", plm, alpha, "R@2kt")
        figures.append(charts.ablation_heatmap(gains, p_values, unsupported_of(arts).get(plm, {}).get("xquad-xr", []),
                                               f"{plm}: generation-language ablation, R@2kt gain, alpha = {alpha:g}"))
    drop = alpha_curve(res, "pawsx-adv", plm, n, "drop")
    if not drop.empty:
        figures.append(charts.line_figure(drop, "alpha", "value", f"{plm}: PAWS-X adversarial drop against alpha "
                                          f"(n = {n}; smaller is more robust)", color="lang",
                                          labels={"value": "drop (Acc@1 points)", "lang": "language"}))
    return figures


def study_report_html(arts: Artifacts) -> str:
    """The whole study as one HTML page that opens offline."""
    from plotly.offline import get_plotlyjs

    splits = arts.splits()
    parts = ["<h1>xQG Explorer: study report</h1>", "<table><tbody>"]
    parts += [f"<tr><th>{html.escape(k)}</th><td style='text-align:left'>{html.escape(v)}</td></tr>"
              for k, v in provenance(arts)]
    parts.append("</tbody></table>")
    figures = []
    if has_halves(splits):
        strength = encoder_strength(splits, "xquad-xr", arts.n_max, arts.encoders, ("xqg", *OWN_ALPHA_VARIANTS))
        figures.append(("Encoder strength", [charts.strength_figure(strength, arts.n_max)]))
    figures += [(plm, plm_figures(arts, plm, splits)) for plm in arts.encoders]
    parts.append("<h2>Figures</h2>")
    for heading, figs in figures:
        parts.append(f"<h3>{html.escape(heading)}</h3>")
        parts += [fig.update_layout(template="plotly_white").to_html(full_html=False, include_plotlyjs=False)
                  for fig in figs]
    parts.append(markdown_html(findings_markdown(arts)))
    deviations = arts.manifest.get("deviations") or []
    if deviations:
        parts.append("<h2>Deviations from the paper</h2>")
        parts += [f"<p>&bull; {html.escape(d)}</p>" for d in deviations]
    return ("<!doctype html><html><head><meta charset='utf-8'><title>xQG Explorer study report</title>"
            f"<style>{REPORT_STYLE}</style><script>{get_plotlyjs()}</script></head><body>{''.join(parts)}"
            "</body></html>")


def print_pdf(html_file: Path, pdf_file: Path, chromium: str = CHROMIUM, timeout: int = 300) -> None:
    """``html_file`` printed to ``pdf_file`` by headless chromium, after its scripts have drawn."""
    if not Path(chromium).exists():
        raise XqgError(f"{chromium}: not found; install Debian's chromium to print the report as PDF")
    with tempfile.TemporaryDirectory() as profile:
        done = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={profile}",
                               "--virtual-time-budget=30000", "--no-pdf-header-footer",
                               f"--print-to-pdf={pdf_file}", html_file.resolve().as_uri()],
                              capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0 or not pdf_file.is_file():
        raise XqgError(f"chromium could not print {html_file} ({done.stderr.strip()[-300:]})")
