"""Your questions: an uploaded question file against the shipped study's xquad-xr index, with
the same table and curve as Results (through ``evaluate-queries``' code)."""
from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd
import streamlit as st

from pages import exports, ui
from xqg_core.errors import XqgError
from xqg_core.explore import charts
from xqg_core.explore.evaluate_queries import (
    MAX_UPLOAD_BYTES,
    MAX_UPLOAD_QUESTIONS,
    evaluate_query_set,
    read_query_file,
)
from xqg_core.explore.tables import SIGNIFICANCE_LEVEL

arts = ui.index_artifacts("Your questions")
st.markdown(
    "Upload questions in one language and see how xQG ranks the study's English passages for them, exactly as "
    "`python -m xqg_core evaluate-queries` does. Accepted: **XQuAD / SQuAD json** whose question ids are this "
    "study's XQuAD ids (in any language: the English answers and gold passages come from the study), or "
    "**XOR-Retrieve jsonl** (`id, question, answers, lang`, English answers: R@kt only).")
study = ui.study(arts)
if study is None:
    st.stop()
plm = ui.select("Encoder (PLM)", "plm", arts.encoders)
k_n = ui.bound("n", arts.n_max, lambda v: 1 <= v <= arts.n_max, cast=int)
n = st.sidebar.slider("n (generated queries per language)", 1, arts.n_max, key=k_n)
langs = ["ar", "bn", "de", "en", "es", "fi", "fr", "hi", "ja", "ko", "ru", "te", "vi", "zh"]
lang = ui.select("Language of the questions", "yq_lang", langs, default="de")
alphas = [a for a in arts.alphas if a <= 0.05] or arts.alphas
upload = st.file_uploader("Question file (.json or .jsonl)", type=["json", "jsonl"], key="upload")
ui.sync_url(["plm", k_n, "yq_lang"])
if upload is None:
    st.info("Pick a file to evaluate.")
    st.stop()


@st.cache_data(show_spinner="Encoding and ranking your questions ...", max_entries=8)
def evaluate(name: str, content: bytes, lang: str, plm: str, n: int, alphas: tuple[float, ...]) -> dict:
    """evaluate-queries on the uploaded bytes (written to a private temporary file named like
    the upload, whose path never reaches the page: errors name the upload)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / (Path(name).name or "upload")
        path.write_bytes(content)
        try:
            queries = read_query_file(path, lang, study)
            if len(queries.ids) > MAX_UPLOAD_QUESTIONS:
                return {"error": f"{len(queries.ids):,} questions in {lang}; this page evaluates at most "
                                 f"{MAX_UPLOAD_QUESTIONS:,} (python -m xqg_core evaluate-queries takes any number)"}
            return evaluate_query_set(arts, study, plm, ui.encoder(plm), queries, lang, alphas, n)
        except XqgError as exc:
            return {"error": str(exc).replace(str(path), name)}


content = upload.getvalue()
if len(content) > MAX_UPLOAD_BYTES:
    st.error(f"{ui.literal(upload.name)} is {len(content) / 2**20:.1f} MB; this page evaluates files up to "
             f"{MAX_UPLOAD_BYTES // 2**20} MB ({MAX_UPLOAD_QUESTIONS:,} questions). For more, run "
             "`python -m xqg_core evaluate-queries`, which reads any size a block at a time.")
    st.stop()
result = evaluate(upload.name, content, lang, plm, n, tuple(alphas))
if "error" in result:
    st.error(f"{ui.literal(upload.name)}: cannot be evaluated - {ui.literal(result['error'])}")
    st.stop()
rows = pd.DataFrame(result["rows"])
k_alpha = ui.bound("alpha", 0.01 if 0.01 in alphas else alphas[-1], lambda v: v in alphas, cast=float)
alpha = st.sidebar.select_slider("alpha (grid)", options=alphas, key=k_alpha, format_func=lambda a: f"{a:g}")
base = rows[rows.alpha == 0].set_index("metric")
cell = rows[rows.alpha == alpha].set_index("metric")
table = pd.DataFrame({"baseline": base.value, "xQG": cell.value})
table["Δ"] = ui.delta_text(table.xQG - table.baseline, cell.p_value)
table["p"] = cell.p_value
st.subheader(f"{ui.literal(upload.name)}: {result['num_queries']:,} questions in {lang} · {plm} · alpha = {alpha:g} · "
             f"n = {n}")
st.dataframe(table.style.format({"baseline": "{:.2f}", "xQG": "{:.2f}", "p": "{:.3g}"}), width="stretch")
st.caption(f"Percent. R@kt over the {result['evaluated_r_at_kt']:,} questions whose answers are not only yes/no "
           f"(official rule). ▲/▼: p < {SIGNIFICANCE_LEVEL}, paired randomization test vs alpha = 0 over your questions.")
metric = ui.select("Metric for the curve", "yq_metric", list(dict.fromkeys(rows.metric)), container=st)
fig = charts.line_figure(rows[rows.metric == metric], "alpha", "value", f"{metric} vs alpha (your questions, {plm}, n = {n})",
                     labels={"value": f"{metric} (%)"})
fig.add_vline(x=alpha, line_dash="dot")
st.plotly_chart(fig, config=ui.PLOTLY_CONFIG, key="fig-yours")
ui.sync_url(["plm", k_n, "yq_lang", k_alpha, "yq_metric"])

with st.expander("Export this view"):
    exports.download_table(rows.set_index(["metric", "alpha"]), f"your-questions-{plm}-n{n}",
                      f"{upload.name}: metrics per alpha ({plm}, n={n})")
    exports.figure_downloads({"your-questions-vs-alpha": fig})
