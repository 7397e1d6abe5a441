"""End to end in headless Chromium (Debian's ``chromium``, driven by Playwright): every page
opens without an exception, the alpha slider moves and changes the view and the URL, a
live query returns hits. Screenshots go to $XQG_SCREENSHOTS (default: a temp dir), never
into git.

    python tests/test_browser.py URL OUT_DIR     # the same walk against a running app
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

CHROMIUM = "/usr/bin/chromium"
PROJECT_ROOT = Path(__file__).resolve().parent.parent
# url path -> (title, an element the page has once drawn)
PAGES = {"": ("xQG Explorer", '[data-testid="stMetric"]'), "results": ("Results", '[data-testid="stDataFrame"]'),
         "robustness": ("Robustness", '[data-testid="stDataFrame"]'),
         "embedding_shift": ("Embedding shift", ".js-plotly-plot"),
         "live_search": ("Live search", 'input[aria-label="Query (any language)"]'),
         "why_moved": ("Why did it move?", '[data-testid="stCaptionContainer"]'),
         "your_questions": ("Your questions", '[data-testid="stFileUploader"]'),
         "your_passage": ("Augment your own passage", '[data-testid="stTextArea"]'),
         "status": ("Installation", '[data-testid="stDataFrame"]')}
VIEWPORT = {"width": 1440, "height": 1000}  # a laptop screen: every table's key columns must show


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(url: str, proc: subprocess.Popen, timeout: float = 90) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with {proc.returncode}: {proc.stdout.read() if proc.stdout else ''}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"{url} did not become healthy in {timeout} s")


# Streamlit's own run state on the app root ("running" from the first delta until the script
# ends; the status widget only shows after a delay, so a fast run can end before it appears)
SCRIPT_IDLE = ("() => { const app = document.querySelector('[data-testid=\"stApp\"]'); "
               "return app && app.getAttribute('data-test-script-state') === 'notRunning' && "
               "!document.querySelector('[data-testid=\"stSkeleton\"]'); }")


def wait_idle(page, ready: str | None = None, timeout: float = 120_000) -> None:
    """Until the page shows ``ready`` and Streamlit has stopped running (no skeletons)."""
    page.wait_for_selector('[data-testid="stApp"]', timeout=timeout)
    if ready:
        page.wait_for_selector(ready, timeout=timeout)
    page.wait_for_function(SCRIPT_IDLE, timeout=timeout)
    page.wait_for_timeout(1000)


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
    port = free_port()
    env = {**os.environ, "XQG_ARTIFACTS": small_study.output_dir, "XQG_DATA_DIR": str(data_dir)}
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(PROJECT_ROOT / "app.py"),
                             "--server.port", str(port), "--server.headless", "true"],
                            cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, proc)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


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
