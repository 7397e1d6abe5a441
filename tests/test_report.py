"""``python -m xqg_core report``: one self-contained HTML file of the study, and its PDF."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from xqg_core.cli import main
from xqg_core.explore.charts import LANG_COLOURS
from xqg_core.explore.findings import findings_markdown
from xqg_core.explore.reports import markdown_html
from xqg_core.study.artifacts import load_artifacts

CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="module")
def report(small_study, tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    pdf = out / "study.pdf" if Path(CHROMIUM).exists() else None
    assert main(["report", "--artifacts", small_study.output_dir, "--output", str(out / "study.html")]
                + (["--pdf", str(pdf)] if pdf else [])) == 0
    return out / "study.html", pdf


def test_the_report_holds_the_findings_and_what_produced_them(small_study, report):
    page = report[0].read_text(encoding="utf-8")
    arts = load_artifacts(small_study.output_dir)
    assert markdown_html(findings_markdown(arts)) in page  # every number as the findings compute it
    assert arts.manifest["inputs_fingerprint"] in page and arts.manifest["code_version"] in page
    assert "<script src=" not in page and "<link" not in page and "@import" not in page and "url(http" not in page


def test_the_reports_language_figures_hold_one_colour_per_language(small_study, report):
    page = report[0].read_text(encoding="utf-8")
    colours = {c.lower() for c in re.findall(r'"color":\s*"(#[0-9A-Fa-f]{6})"', page)}
    langs = set(small_study.xquad_xr.langs) | {"avg"}
    assert {LANG_COLOURS[lang].lower() for lang in langs} <= colours


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium")
def test_the_report_opens_offline_in_chromium_and_prints(report):
    from playwright.sync_api import sync_playwright

    html_file, pdf = report
    assert pdf.read_bytes()[:5] == b"%PDF-" and pdf.stat().st_size > 10_000
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page()
        requests = []
        page.on("request", lambda r: requests.append(r.url))
        page.goto(html_file.as_uri())
        page.wait_for_selector(".js-plotly-plot .main-svg")
        drawn = page.locator(".js-plotly-plot").count()
        browser.close()
    assert [u for u in requests if not u.startswith("file://")] == [] and drawn >= 4


def test_report_refuses_a_directory_as_output(small_study, tmp_path, capsys):
    assert main(["report", "--artifacts", small_study.output_dir, "--output", str(tmp_path)]) == 2
    assert "a directory" in capsys.readouterr().err
