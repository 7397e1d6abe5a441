"""End to end in headless Chromium (Debian's ``chromium``, driven by Playwright): every page
opens without an exception, the alpha slider moves and changes the view and the URL, a
live query returns hits. Screenshots go to $XQG_SCREENSHOTS (default: a temp dir), never
into git.

    python tests/test_browser.py URL OUT_DIR     # the same walk against a running app
"""
from __future__ import annotations

import os
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

from benchmarks.chromium import CHROMIUM, VIEWPORT, streamlit_app, wait_idle

# url path -> (title, an element the page has once drawn)
PAGES = {"": ("xQG Explorer", '[data-testid="stMetric"]'), "findings": ("Findings", '[data-testid="stDataFrame"]'),
         "results": ("Results", '[data-testid="stDataFrame"]'),
         "robustness": ("Robustness", '[data-testid="stDataFrame"]'),
         "embedding_shift": ("Embedding shift", ".js-plotly-plot"),
         "live_search": ("Live search", 'input[aria-label="Query (any language)"]'),
         "why_moved": ("Why did it move?", '[data-testid="stCaptionContainer"]'),
         "your_questions": ("Your questions", '[data-testid="stFileUploader"]'),
         "your_passage": ("Augment your own passage", '[data-testid="stTextArea"]'),
         "status": ("Installation", '[data-testid="stDataFrame"]')}


def assert_no_exception(page, where: str) -> None:
    errors = page.locator('[data-testid="stException"]')
    assert errors.count() == 0, f"{where}: {errors.first.inner_text()[:500]}"


def walk(base_url: str, out_dir: Path, query: str = "Wie lang ist der Nil?") -> dict[str, str]:
    """Open each page, move the alpha slider, run a live query; returns the URL after each step."""
    from playwright.sync_api import sync_playwright

    out_dir.mkdir(parents=True, exist_ok=True)
    urls = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport=VIEWPORT)
        # a deep link as the server's first visit: app.py's navigation and wide layout, never
        # Streamlit's file-based mode (which lists every file of pages/, ui.py included)
        page.goto(f"{base_url}/robustness?alpha=0.02")
        wait_idle(page, PAGES["robustness"][1])
        links = [e.inner_text().split("\n")[-1] for e in page.query_selector_all('[data-testid="stSidebarNavLink"]')]
        assert links[:4] == ["Overview", "Findings", "Results", "Robustness (PAWS-X)"] and len(links) == len(PAGES), links
        width = page.evaluate("document.querySelector('[data-testid=\"stMainBlockContainer\"]').offsetWidth")
        assert width > 1000, f"a deep link lost the wide layout ({width} px)"
        for path, (title, ready) in PAGES.items():
            page.goto(f"{base_url}/{path}")
            wait_idle(page, ready)
            page.get_by_role("heading", name=title).first.wait_for(timeout=60_000)
            assert_no_exception(page, path or "overview")
            page.screenshot(path=str(out_dir / f"{path or 'overview'}.png"), full_page=True)
        # the alpha slider on the Results page: one step to the right
        page.goto(f"{base_url}/results")
        wait_idle(page, PAGES["results"][1])
        before = page.locator("h3").first.inner_text()
        slider = page.locator('[data-testid="stSidebar"] [data-testid="stSlider"] input[type="range"]').first
        slider.focus()
        slider.press("ArrowRight")
        wait_idle(page)
        page.wait_for_function("(b) => document.querySelector('h3') && document.querySelector('h3').innerText !== b",
                               arg=before, timeout=60_000)
        assert_no_exception(page, "results after the slider")
        # the page writes the URL after it reruns: wait for the URL itself, not for a fixed time
        page.wait_for_function("() => { const a = new URLSearchParams(location.search).get('alpha');"
                               " return a !== null && a !== '0.01'; }", timeout=60_000)
        urls["results"] = page.url
        page.screenshot(path=str(out_dir / "results-slider.png"), full_page=True)
        # a lazy tab: the ablation view runs and draws when opened, and the URL says which view is open
        page.get_by_role("tab", name="Ablation").click()
        page.wait_for_function("() => new URLSearchParams(location.search).get('view') === 'Ablation'", timeout=60_000)
        wait_idle(page)
        page.get_by_text("Which generated languages help which query languages?").wait_for(timeout=60_000)
        assert_no_exception(page, "results, ablation view")
        page.screenshot(path=str(out_dir / "results-ablation.png"), full_page=True)
        # two figure downloads in a row: each file is drawn on its click, and the page keeps its buttons
        page.goto(f"{base_url}/robustness?alpha=0.02")
        wait_idle(page, PAGES["robustness"][1])
        page.get_by_text("Export this view").click()
        sizes = []
        for name in ("pawsx-drop-vs-alpha.svg", "pawsx-acc-vs-alpha.png"):
            with page.expect_download(timeout=60_000) as download:
                page.get_by_role("button", name=name).click()
            sizes.append(Path(download.value.path()).stat().st_size)
        assert min(sizes) > 1000 and page.get_by_role("button", name="pawsx-drop-vs-alpha.png").count() == 1
        assert_no_exception(page, "robustness after two downloads")
        # a live query
        page.goto(f"{base_url}/live_search")
        wait_idle(page, PAGES["live_search"][1])
        box = page.get_by_label("Query (any language)")
        box.fill(query)
        box.press("Enter")
        page.get_by_text("Detected language").wait_for(timeout=120_000)
        wait_idle(page)
        assert_no_exception(page, "live search")
        page.wait_for_function("(q) => new URLSearchParams(location.search).get('q') === q", arg=query, timeout=60_000)
        urls["live_search"] = page.url
        page.screenshot(path=str(out_dir / "live-search.png"), full_page=True)
        # the dark theme (Streamlit follows the system setting)
        dark = browser.new_page(viewport=VIEWPORT, color_scheme="dark")
        dark.goto(f"{base_url}/results")
        wait_idle(dark, PAGES["results"][1])
        assert_no_exception(dark, "results, dark theme")
        urls["dark_background"] = dark.evaluate(
            "() => getComputedStyle(document.querySelector('[data-testid=\"stApp\"]')).backgroundColor")
        dark.screenshot(path=str(out_dir / "results-dark.png"), full_page=True)
        browser.close()
    return urls


@pytest.fixture
def app_server(small_study, data_dir):
    with streamlit_app({**os.environ, "XQG_ARTIFACTS": small_study.output_dir, "XQG_DATA_DIR": str(data_dir)}) as url:
        yield url


def test_every_page_in_chromium(app_server, tmp_path):
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{CHROMIUM} missing: .ci/run installs Debian's chromium")
        pytest.skip(f"{CHROMIUM} not installed (apt-get install chromium)")
    out = Path(os.environ.get("XQG_SCREENSHOTS") or tmp_path / "screenshots")
    urls = walk(app_server, out)
    params = parse_qs(urlparse(urls["results"]).query)
    assert params["alpha"] != ["0.01"] and float(params["alpha"][0]) > 0.01  # moved one step right of the default
    assert parse_qs(urlparse(urls["live_search"]).query)["q"] == ["Wie lang ist der Nil?"]
    r, g, b = (int(v) for v in urls["dark_background"].strip("rgba()").split(",")[:3])
    assert r + g + b < 150, urls["dark_background"]  # a dark page
    assert {p.name for p in out.glob("*.png")} >= {"overview.png", "results.png", "results-slider.png", "results-ablation.png",
                                                   "live-search.png",
                                                   "why_moved.png", "your_questions.png", "your_passage.png"}


if __name__ == "__main__":
    print(walk(sys.argv[1], Path(sys.argv[2])))
