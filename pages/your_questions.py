"""Your questions: an uploaded question file against the shipped study's xquad-xr index, with
the same table and curve as Results (through ``evaluate-queries``' code)."""
from __future__ import annotations

import re
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
    language_mismatch,
    read_query_file,
)
from xqg_core.explore.tables import SIGNIFICANCE_LEVEL

LANG_CODE = re.compile(r"[a-z]{2,3}")

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
k_lang = ui.bound("yq_lang", "de", lambda v: isinstance(v, str) and bool(LANG_CODE.fullmatch(v)))
lang = st.sidebar.text_input("Language of the questions (ISO 639 code)", key=k_lang, max_chars=3,
                             help="Any code: XQuAD has ar, de, el, en, es, hi, ro, ru, th, tr, vi, zh; XOR-TyDi ar, "
                                  "bn, fi, ja, ko, ru, te. The file's questions are checked against it (langid).")
if not LANG_CODE.fullmatch(lang):
    st.sidebar.warning(f"'{ui.literal(lang)}' is not a language code (two or three lowercase letters); using 'de'.")
    lang = "de"
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
            result = evaluate_query_set(arts, study, plm, ui.encoder(plm), queries, lang, alphas, n, per_question=True)
            return {**result, "ids": queries.ids, "texts": queries.texts,
                    "language_warning": language_mismatch(queries.texts, lang)}
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
if result.get("language_warning"):
    st.warning(f"{ui.literal(upload.name)}: {ui.literal(result['language_warning'])}")
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

st.subheader("Per question")
at = result["alphas"].index(alpha)
per_question = pd.DataFrame({"id": result["ids"], "question": result["texts"]})
for m, values in result["outcomes"].items():
    per_question[f"{m} baseline"] = values[0]
    per_question[f"{m} xQG"] = values[at]
changed = per_question["R@2kt xQG"] - per_question["R@2kt baseline"]
per_question["R@2kt change"] = changed.map(lambda d: "gained" if d > 0 else "lost" if d < 0 else "same" if d == d else "-")
show = ui.select("Show", "yq_show", ["all", "gained", "lost"], container=st)
view = per_question if show == "all" else per_question[per_question["R@2kt change"] == show]
st.caption(f"{int((changed > 0).sum())} questions gained and {int((changed < 0).sum())} lost R@2kt at alpha = "
           f"{alpha:g} (1 = an answer in the window; fractions for the gold-passage metrics). Showing {len(view):,}.")
st.dataframe(view, hide_index=True, width="stretch", column_config={"question": st.column_config.TextColumn(width=320)})
ui.sync_url(["plm", k_n, "yq_lang", k_alpha, "yq_metric", "yq_show"])

with st.expander("Export this view"):
    exports.download_table(rows.set_index(["metric", "alpha"]), f"your-questions-{plm}-n{n}",
                      f"{upload.name}: metrics per alpha ({plm}, n={n})")
    exports.download_table(per_question.set_index("id"), f"your-questions-per-question-{plm}-a{alpha:g}-n{n}",
                           f"{upload.name}: each question at the baseline and at alpha={alpha:g} ({plm}, n={n})")
    exports.figure_downloads({"your-questions-vs-alpha": fig})
