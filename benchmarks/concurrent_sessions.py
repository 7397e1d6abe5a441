"""Server CPU per page visit, and many users at once: Debian's chromium (Playwright) opens N
browsers (contexts) against ``streamlit run app.py`` on the shipped study, each visiting every
page once, all N at the same time.

The server's CPU time (user + system, all its threads, from ``/proc/PID/stat``) is read before
and after; divided by the visits it is what one visit costs the server once the shared caches
are warm (one warm-up browser visits every page first). Every visit loads the page's URL anew,
so it is a new Streamlit session that runs the page's script from the top. Two kinds of browser:
one that has opened the app before (its HTTP cache holds Streamlit's ~230 static files), and a
new one, which downloads them all (the server gzips each). A visit counts as an error when the
page shows an exception. Per page, a lone visit is measured the same way.

    python -m benchmarks.concurrent_sessions [--sessions 1 5 10] [--write]
"""
from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time

from benchmarks.chromium import CHROMIUM, SCRIPT_IDLE, VIEWPORT, chromium_version, streamlit_server
from benchmarks.report import machine_line, publish

PAGES = {"Overview": "", "Findings": "findings", "Results": "results", "Robustness (PAWS-X)": "robustness", "Embedding shift": "embedding_shift",
         "Live search": "live_search", "Why did it move?": "why_moved", "Your questions": "your_questions",
         "Your passage": "your_passage", "Installation": "status"}
BUDGET_S = 0.25


def server_cpu(pid: int) -> float:
    """User + system CPU seconds of a process (all its threads) so far."""
    fields = open(f"/proc/{pid}/stat", encoding="ascii").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def visit(browser, url: str, path: str, context=None) -> tuple[float, bool]:
    """A new session's visit of one page, in ``context`` (a browser that has opened the app
    before) or in a new one: (seconds until its run finished, showed an exception)."""
    own = context is None
    context = context or await browser.new_context(viewport=VIEWPORT)
    page = await context.new_page()
    start = time.perf_counter()
    await page.goto(f"{url}/{path}", timeout=600_000)  # ten browsers on two cores wait minutes
    await page.wait_for_selector('[data-testid="stApp"]', timeout=300_000)
    await page.wait_for_function(SCRIPT_IDLE, timeout=300_000, polling=50)
    await page.wait_for_timeout(300)  # a rerun Streamlit may start right after the first
    await page.wait_for_function(SCRIPT_IDLE, timeout=300_000, polling=50)
    seconds = time.perf_counter() - start
    failed = await page.locator('[data-testid="stException"]').count() > 0
    await page.close()
    if own:
        await context.close()
    return seconds, failed


async def session(browser, url: str, returning: bool) -> list[tuple[float, bool]]:
    """Every page once; ``returning``: in a browser that has opened the app before."""
    context = None
    if returning:
        context = await browser.new_context(viewport=VIEWPORT)
        await visit(browser, url, "", context)  # its first visit fills its HTTP cache
    visits = [await visit(browser, url, path, context) for path in PAGES.values()]
    if context is not None:
        await context.close()
    return visits


async def run(url: str, pid: int, counts: list[int]) -> tuple[dict, dict]:
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"])
        await session(browser, url, False)  # warm-up: the shared caches (artifacts, tables, encoders)
        per_page = {}
        returning = await browser.new_context(viewport=VIEWPORT)
        await visit(browser, url, "", returning)
        for name, path in PAGES.items():
            row = []
            for context in (returning, None):
                cpu = server_cpu(pid)
                seconds, failed = await visit(browser, url, path, context)
                row += [server_cpu(pid) - cpu, seconds, failed]
            per_page[name] = row
        await returning.close()
        together = {}
        for kind in (True, False):
            for n in (counts if kind else counts[:1]):  # new browsers: the static files' cost, measured once
                cpu, start = server_cpu(pid), time.perf_counter()
                results = await asyncio.gather(*(session(browser, url, kind) for _ in range(n)))
                visits = [v for r in results for v in r]
                together[(kind, n)] = ((server_cpu(pid) - cpu) / len(visits), statistics.median(s for s, _ in visits),
                                       max(s for s, _ in visits), sum(f for _, f in visits), time.perf_counter() - start)
        await browser.close()
    return per_page, together


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sessions", type=int, nargs="+", default=[1, 5, 10])
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    env = {k: v for k, v in os.environ.items() if k != "XQG_ARTIFACTS"}  # the shipped study
    with streamlit_server(env, capture_output=False) as (url, proc):
        per_page, together = asyncio.run(run(url, proc.pid, args.sessions))
    lines = ["## Server CPU per page visit, many users at once (`python -m benchmarks.concurrent_sessions --write`)", "",
             f"Machine: {machine_line()}; Debian's chromium {chromium_version()} (headless, Playwright) on the same "
             "machine as the server, the shipped study. Each visit loads the page's URL (a new Streamlit session), "
             "after one warm-up browser; server CPU = user + system time of the streamlit process. A new browser also "
             f"downloads Streamlit's ~230 static files (gzipped by the server). Budget: <= {BUDGET_S} s of server CPU "
             "per visit.", "",
             "| page, a lone visit | server CPU (browser that opened the app before) | until its run finished | "
             "server CPU (new browser) | until its run finished | error |", "|---|---|---|---|---|---|"]
    for name, (cpu, seconds, failed, cpu_new, seconds_new, failed_new) in per_page.items():
        lines.append(f"| {name} | {cpu:.2f} s | {seconds:.2f} s | {cpu_new:.2f} s | {seconds_new:.2f} s | "
                     f"{'yes' if failed or failed_new else 'no'} |")
    lines += ["", "| browsers at once | browser | server CPU per visit | page run median | max | visits with an error "
              "| wall time |", "|---|---|---|---|---|---|---|"]
    for (returning, n), (cpu, median, worst, errors, wall) in together.items():
        kind = "opened the app before" if returning else "new"
        lines.append(f"| {n} | {kind} | {cpu:.2f} s | {median:.1f} s | {worst:.1f} s | {errors} of {n * len(PAGES)} | "
                     f"{wall:.0f} s |")
    publish("concurrent-sessions", lines, args.write)


if __name__ == "__main__":
    main()
