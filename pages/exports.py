"""The dashboard's exports: tables as CSV and LaTeX, figures as PNG and SVG, a view's report.
Every file is written when its button is clicked, and a click does not rerun the page."""
from __future__ import annotations

import os
import threading
from typing import Any, Sequence

import pandas as pd
import streamlit as st

from xqg_core.explore.study_report import CHROMIUM


# Downloads are written when clicked (a callable ``data``; LaTeX of a large table took seconds of
# server CPU on every run of the page) and do not rerun the page (``on_click="ignore"``), so the
# other buttons stay. The callables run outside the script's context: pure functions only.
def download_table(df: pd.DataFrame, name: str, caption: str, container=st) -> None:
    from functools import partial

    from xqg_core.explore.reports import to_csv, to_latex

    c1, c2 = container.columns(2)
    c1.download_button("CSV", partial(to_csv, df), file_name=f"{name}.csv", mime="text/csv", key=f"csv-{name}",
                       on_click="ignore")
    c2.download_button("LaTeX", partial(to_latex, df, caption), file_name=f"{name}.tex", mime="text/x-tex",
                       key=f"tex-{name}", on_click="ignore")


def figure_image(figure, fmt: str) -> bytes:
    """One figure as PNG or SVG, drawn by kaleido in Debian's chromium, in plotly's own light
    template: the page's theme lives in the browser, and a figure exported with Streamlit's
    template would lose its colour sequence. Runs when its download button is clicked: ``figure``
    is serialised then, not on every run of the page."""
    import warnings

    import plotly.io as pio

    _start_kaleido()
    fig = pio.from_json(figure.to_json())  # a copy: the page's figure stays as it is
    fig.update_layout(template="plotly_white")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "kopts is ignored with a server": the server has them
        return fig.to_image(format=fmt, scale=2 if fmt == "png" else 1)


_KALEIDO = threading.Lock()


def _start_kaleido() -> None:
    """One chromium for every export of the server process: a figure then takes ~0.25 s, not the
    2-4 s of starting a browser per file. A module lock, not a Streamlit cache: the download
    callables run outside a script run."""
    import kaleido

    with _KALEIDO:
        if getattr(_start_kaleido, "started", False):
            return
        if os.path.exists(CHROMIUM):
            os.environ.setdefault("BROWSER_PATH", CHROMIUM)
        kaleido.start_sync_server(silence_warnings=True)
        _start_kaleido.started = True


def figure_downloads(figures: dict[str, Any], container=st) -> None:
    """PNG and SVG buttons for each figure: a file is drawn when its button is clicked (one figure,
    not every one), and a click does not rerun the page, so the other buttons stay."""
    from functools import partial
    from importlib.util import find_spec

    if find_spec("kaleido") is None or not (os.path.exists(CHROMIUM) or os.environ.get("BROWSER_PATH")):
        container.warning("Figure export needs kaleido and a Chromium browser; use the camera icon on each chart "
                          "instead (an SVG, drawn by your browser).")
        return
    for name, fig in figures.items():
        c1, c2 = container.columns(2)
        c1.download_button(f"{name}.png", partial(figure_image, fig, "png"), file_name=f"{name}.png",
                           mime="image/png", key=f"png-{name}", on_click="ignore")
        c2.download_button(f"{name}.svg", partial(figure_image, fig, "svg"), file_name=f"{name}.svg",
                           mime="image/svg+xml", key=f"svg-{name}", on_click="ignore")


def report_downloads(title: str, params: dict[str, Any], tables: dict[str, pd.DataFrame], notes: Sequence[str] = (),
                     container=st) -> None:
    from functools import partial

    from xqg_core.explore.reports import report_html, report_markdown

    query = "&".join(f"{k}={v}" for k, v in st.query_params.to_dict().items())
    markdown = partial(report_markdown, title, params, tables, link=f"?{query}" if query else "", notes=notes)
    c1, c2 = container.columns(2)
    c1.download_button("Report (Markdown)", markdown, file_name="xqg-report.md", mime="text/markdown", key="report-md",
                       on_click="ignore")
    c2.download_button("Report (HTML)", lambda: report_html(markdown()), file_name="xqg-report.html", mime="text/html",
                       key="report-html", on_click="ignore")
