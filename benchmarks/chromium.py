"""The dashboard in Debian's chromium: start ``streamlit run app.py`` on a free port and wait
for Streamlit to finish its runs. Shared by the browser test and the browser latency benchmark
(Playwright is launched with ``executable_path=CHROMIUM``; never ``playwright install``)."""
from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
PROJECT_ROOT = Path(__file__).resolve().parent.parent
VIEWPORT = {"width": 1440, "height": 1000}  # a laptop screen: every table's key columns must show

# Streamlit's own run state on the app root ("running" from the first delta until the script
# ends; the status widget only shows after a delay, so a fast run can end before it appears)
SCRIPT_IDLE = ("() => { const app = document.querySelector('[data-testid=\"stApp\"]'); "
               "return app && app.getAttribute('data-test-script-state') === 'notRunning' && "
               "!document.querySelector('[data-testid=\"stSkeleton\"]'); }")


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


@contextlib.contextmanager
def streamlit_app(env: Mapping[str, str], capture_output: bool = True) -> Iterator[str]:
    """``streamlit run app.py`` with ``env``, healthy; yields its URL and stops it on exit."""
    with streamlit_server(env, capture_output) as (url, _):
        yield url


@contextlib.contextmanager
def streamlit_server(env: Mapping[str, str], capture_output: bool = True) -> Iterator[tuple[str, subprocess.Popen]]:
    """As :func:`streamlit_app`, yielding the server process too (its CPU time is measured)."""
    port = free_port()
    out = subprocess.PIPE if capture_output else subprocess.DEVNULL
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(PROJECT_ROOT / "app.py"),
                             "--server.port", str(port), "--server.headless", "true"],
                            cwd=PROJECT_ROOT, env=dict(env), stdout=out, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, proc)
        yield url, proc
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def wait_idle(page, ready: str | None = None, timeout: float = 120_000) -> None:
    """Until the page shows ``ready`` and Streamlit has stopped running (no skeletons)."""
    page.wait_for_selector('[data-testid="stApp"]', timeout=timeout)
    if ready:
        page.wait_for_selector(ready, timeout=timeout)
    page.wait_for_function(SCRIPT_IDLE, timeout=timeout)
    page.wait_for_timeout(1000)


def chromium_version() -> str:
    try:
        return subprocess.run([CHROMIUM, "--version"], capture_output=True, text=True, timeout=30).stdout.split()[1]
    except (OSError, IndexError, subprocess.SubprocessError):
        return "(version unknown)"
