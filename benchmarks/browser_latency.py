"""Dashboard latency in a real browser: Debian's chromium driven by Playwright against
``streamlit run app.py`` on the shipped study, median of ``--repeats`` (10) per interaction.

Each timing runs from the user's action (a key press, a click, Enter) until the page shows
the new content and Streamlit has finished its run (the app root's script state, no
skeleton): what a user waits for.

    python -m benchmarks.browser_latency [--repeats 10] [--write]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

from benchmarks.chromium import CHROMIUM, SCRIPT_IDLE, VIEWPORT, chromium_version, streamlit_app, wait_idle
from benchmarks.report import machine_line, publish

BUDGETS = {"alpha slider move until the page settles": 0.5, "page switch": 1.0,
           "live query until the results show": 0.5, "own-passage generation (35 queries)": 2.0}
QUERIES = ["Wie lang ist der Nil?", "¿Quién pintó la Mona Lisa?", "Какая столица Франции?", "Where is Mount Everest?",
           "ما هي عاصمة مصر؟", "谁发明了电话？", "Qui a écrit Les Misérables ?", "Who was Napoleon?",
           "When did the Second World War end?", "Was ist Photosynthese?", "How does a volcano form?"]


def settle(page, changed: str, arg=None) -> None:
    """Until the JS predicate ``changed`` holds and the run has finished."""
    page.wait_for_function(changed, arg=arg, timeout=120_000, polling=20)
    page.wait_for_function(SCRIPT_IDLE, timeout=120_000, polling=20)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--only", choices=["slider", "page", "live", "passage"], action="append",
                    help="time only these interactions (repeatable; default: all)")
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    only = set(args.only or ["slider", "page", "live", "passage"])
    from playwright.sync_api import sync_playwright


    env = {k: v for k, v in os.environ.items() if k != "XQG_ARTIFACTS"}  # the shipped study
    times: dict[str, list[float]] = {k: [] for k in BUDGETS}
    with streamlit_app(env, capture_output=False) as url:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_page(viewport=VIEWPORT)
            # warm-up: every page once (caches, encoders, the generator), as a user's first visit
            for path in ("", "results", "robustness", "live_search", "your_passage"):
                page.goto(f"{url}/{path}")
                wait_idle(page)
            page.goto(f"{url}/results")
            wait_idle(page, '[data-testid="stDataFrame"]')
            slider = page.locator('[data-testid="stSidebar"] [data-testid="stSlider"] input[type="range"]').first
            for i in range(args.repeats if "slider" in only else 0):
                before = page.locator("h3").first.inner_text()
                slider.focus()
                start = time.perf_counter()
                slider.press("ArrowRight" if i % 2 == 0 else "ArrowLeft")
                settle(page, "(b) => document.querySelector('h3') && document.querySelector('h3').innerText !== b", before)
                times["alpha slider move until the page settles"].append(time.perf_counter() - start)
            for i in range(args.repeats if "page" in only else 0):
                target = ("Robustness (PAWS-X)", "Robustness") if i % 2 == 0 else ("Results", "Results")
                start = time.perf_counter()
                page.get_by_role("link", name=target[0]).first.click()
                settle(page, "(t) => { const h = document.querySelector('h1'); return h && h.innerText.startsWith(t); }",
                       target[1])
                times["page switch"].append(time.perf_counter() - start)
            page.goto(f"{url}/live_search")
            wait_idle(page, 'input[aria-label="Query (any language)"]')
            box = page.get_by_label("Query (any language)")
            detected = ("() => ([...document.querySelectorAll('[data-testid=\"stCaptionContainer\"]')]"
                        ".find(c => c.innerText.includes('Detected language')) || {innerText: ''}).innerText")
            for i in range(args.repeats if "live" in only else 0):
                query = QUERIES[i % len(QUERIES)]
                box.fill(query)
                before = page.evaluate(detected)
                start = time.perf_counter()
                box.press("Enter")  # done when the caption of the new query's results replaces the old one
                settle(page, f"(b) => {{ const t = ({detected})(); return t.includes('Detected language') && t !== b; }}",
                       before)
                times["live query until the results show"].append(time.perf_counter() - start)
                wait_idle(page)
            page.goto(f"{url}/your_passage")
            wait_idle(page, '[data-testid="stTextArea"]')
            for i in range(args.repeats if "passage" in only else 0):
                page.locator('input[aria-label="Title"]').fill(f"Danube {i}")
                page.locator("textarea").first.fill(
                    f"The Danube is the second-longest river in Europe ({i}). It flows through Vienna, Budapest and "
                    "Belgrade before reaching the Black Sea.")
                page.wait_for_function(SCRIPT_IDLE, timeout=120_000)
                start = time.perf_counter()
                page.get_by_role("button", name="Generate the queries").click()
                settle(page, "(t) => [...document.querySelectorAll('[data-testid=\"stText\"]')]"
                             ".some(e => e.innerText.trim() === 'For: ' + t)", f"Danube {i}")
                times["own-passage generation (35 queries)"].append(time.perf_counter() - start)
            browser.close()
    lines = ["## Dashboard latency in a real browser (`python -m benchmarks.browser_latency --write`)", "",
             f"Machine: {machine_line()}; Debian's chromium {chromium_version()} (headless, Playwright), "
             f"{VIEWPORT['width']} x {VIEWPORT['height']}, the shipped study, the server on the same machine; "
             f"median (and max) of {args.repeats} after one warm-up visit of each page. From the user's action until "
             "the new content shows and the app root reports its script run finished (`data-test-script-state`; the "
             "status widget appears only after a delay, so a fast run may end before it shows).", "",
             "| interaction | median | max | budget |", "|---|---|---|---|"]
    for name, values in times.items():
        if not values:
            continue
        lines.append(f"| {name} | {statistics.median(values):.2f} s | {max(values):.2f} s | <= {BUDGETS[name]:g} s |")
        print(name, " ".join(f"{v:.2f}" for v in values), file=sys.stderr)
    publish("browser-latency", lines, args.write)


if __name__ == "__main__":
    main()
