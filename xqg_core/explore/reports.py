"""Exports of a view: CSV, LaTeX, a Markdown report and its HTML rendering (text escaped).
"""
from __future__ import annotations

import html
import re
from typing import Sequence

import numpy as np
import pandas as pd

# A spreadsheet runs a cell that opens with one of these as a formula (OWASP, "CSV injection").
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def p_text(p: float) -> str:
    """p to 3 decimals, ``< 0.001`` below (a 2,000-resample test gives 0.0005 at least)."""
    return "n/a" if not np.isfinite(p) else "< 0.001" if p < 0.001 else f"{p:.3f}"


def neutralise_cell(value):
    """A text cell that a spreadsheet would run as a formula, prefixed with ``'`` (shown as
    typed, run as nothing); numbers and other text unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def to_csv(df: pd.DataFrame) -> str:
    """CSV of a view (RFC 4180), floats to 4 decimals, every text cell (index and header
    included) neutralised (:func:`neutralise_cell`)."""
    safe = df.copy()
    for column in safe.columns:
        if safe[column].dtype == object or pd.api.types.is_string_dtype(safe[column]):
            safe[column] = safe[column].map(neutralise_cell)
    safe.index = safe.index.map(neutralise_cell) if not isinstance(safe.index, pd.MultiIndex) else \
        pd.MultiIndex.from_tuples([tuple(neutralise_cell(v) for v in t) for t in safe.index], names=safe.index.names)
    safe.columns = [neutralise_cell(c) if isinstance(c, str) else c for c in safe.columns]
    # CRLF rows (RFC 4180): a text cell holding a CR is then quoted, not a row break
    return safe.to_csv(float_format="%.4f", lineterminator="\r\n")


# Characters the tables carry that pdflatex's default (T1/OT1) fonts lack, as LaTeX. A
# significance marker's direction is already in the difference's sign: it becomes a star.
LATEX_SYMBOLS = {"Δ": r"$\Delta$", "▲": r"\textsuperscript{*}", "▼": r"\textsuperscript{*}",
                 "†": r"\textsuperscript{\dag}", "−": "-", "–": "--", "±": r"$\pm$"}
P_COLUMN = re.compile(r"(^|\s)(p|p_adj|p_vs_xqg)$|\sp$")


def latex_text(text: str) -> str:
    """Plain text for LaTeX (a caption: pandas escapes cells, not captions)."""
    special = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
               "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}
    return "".join(special.get(ch, ch) for ch in text)


def _metric_of(column: str, metrics: Sequence[str]) -> str | None:
    return next((m for m in metrics if column == m or column.startswith(f"{m} ")), None)


def to_latex(df: pd.DataFrame, caption: str) -> str:
    """booktabs tables that compile with pdflatex: every text cell escaped; p-values to 3
    decimals or ``< 0.001``; Δ as ``$\Delta$``, significance markers as ``\textsuperscript{*}``;
    a table whose columns hold several metrics (``R@2kt xQG``, ``MRR@10 p``, ...) split into one
    table per metric."""
    from xqg_core.retrieval.cells import PAWSX_METRICS, RETRIEVAL_METRICS

    shown = df.copy()
    shown.columns = [str(c) for c in shown.columns]
    for c in shown.columns:
        if P_COLUMN.search(c) and pd.api.types.is_numeric_dtype(shown[c]):
            shown[c] = [p_text(v) for v in shown[c].astype(float)]
    metrics = (*RETRIEVAL_METRICS, *PAWSX_METRICS)
    groups = list(dict.fromkeys(_metric_of(c, metrics) for c in shown.columns))
    parts = ([(caption, shown)] if len(groups) < 2 or None in groups else
             [(f"{caption} ({m})", shown[[c for c in shown.columns if _metric_of(c, metrics) == m]]) for m in groups])
    tex = "\n".join(part.to_latex(float_format="%.2f", escape=True, caption=latex_text(title), na_rep="-")
                    for title, part in parts)
    for symbol, latex in LATEX_SYMBOLS.items():
        tex = tex.replace(symbol, latex)
    return tex


def report_markdown(title: str, params: dict[str, object], tables: dict[str, pd.DataFrame], link: str = "",
                    notes: Sequence[str] = ()) -> str:
    """A Markdown report of a view: its parameters, link, tables and notes."""
    lines = [f"# {title}", ""]
    lines += [f"- **{k}**: {v}" for k, v in params.items()]
    if link:
        lines += [f"- **view**: {link}"]
    for name, df in tables.items():
        lines += ["", f"## {name}", "", markdown_table(df)]
    if notes:
        lines += ["", "## Notes", ""] + [f"- {n}" for n in notes]
    return "\n".join(lines) + "\n"


def markdown_table(df: pd.DataFrame) -> str:
    def cell(v) -> str:
        if isinstance(v, float):
            return "-" if not np.isfinite(v) else f"{v:.4g}" if abs(v) < 0.01 and v else f"{v:.2f}"
        return str(v).replace("|", "\\|").replace("\n", " ")
    index_name = df.index.name or ""
    header = [index_name, *map(str, df.columns)]
    rows = ["| " + " | ".join(map(cell, header)) + " |", "|" + "---|" * len(header)]
    for idx, r in df.iterrows():
        rows.append("| " + " | ".join(cell(v) for v in [idx, *r.tolist()]) + " |")
    return "\n".join(rows)


REPORT_STYLE = ("body{font-family:sans-serif;max-width:1100px;margin:2em auto}table{border-collapse:collapse}"
                "td,th{border:1px solid #999;padding:2px 6px;text-align:right}")


def report_html(markdown: str) -> str:
    """A standalone HTML page of the Markdown report; all text is escaped, tables become <table>."""
    return (f"<!doctype html><html><head><meta charset='utf-8'><style>{REPORT_STYLE}</style></head>"
            f"<body>{markdown_html(markdown)}</body></html>")


def markdown_html(markdown: str) -> str:
    """The Markdown of a report (headings, bullets, tables, paragraphs) as HTML, every text escaped."""
    body, table = [], []

    def flush():
        if table:
            rows = [r for r in table if not re.fullmatch(r"\|(-+\|)+", r)]
            cells = [[html.escape(c.strip().replace("\\|", "|")) for c in re.split(r"(?<!\\)\|", r)[1:-1]] for r in rows]
            head = "".join(f"<th>{c}</th>" for c in cells[0])
            rest = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in cells[1:])
            body.append(f"<table><thead><tr>{head}</tr></thead><tbody>{rest}</tbody></table>")
            table.clear()

    for line in markdown.splitlines():
        if line.startswith("|"):
            table.append(line)
            continue
        flush()
        if line.startswith("## "):
            body.append(f"<h2>{html.escape(line[3:])}</h2>")
        elif line.startswith("### "):
            body.append(f"<h3>{html.escape(line[4:])}</h3>")
        elif line.startswith("# "):
            body.append(f"<h1>{html.escape(line[2:])}</h1>")
        elif line.startswith("- "):
            body.append(f"<p>&bull; {html.escape(line[2:]).replace('**', '')}</p>")
        elif line.strip():
            body.append(f"<p>{html.escape(line.strip()).replace('**', '')}</p>")
    flush()
    return "".join(body)
