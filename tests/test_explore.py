from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xqg_core.explore.live import check_query, rank_positions
from xqg_core.explore.reports import markdown_table, report_html, report_markdown, to_latex
from xqg_core.explore.tables import comparison_table, significance_marker
from xqg_core.retrieval.cells import tune_threshold
from xqg_core.retrieval.evaluate import TokenCache, recall_at_k_tokens
from xqg_core.retrieval.recall_tokens import RecallAtKTokensMemo


def rows(alpha, values, p=1.0):
    return pd.DataFrame([{"lang": lang, "metric": m, "value": v, "p_value": p, "alpha": alpha}
                         for (lang, m), v in values.items()])


def test_comparison_table_deltas_and_markers():
    base = rows(0.0, {("de", "R@2kt"): 50.0, ("avg", "R@2kt"): 40.0})
    cell = rows(0.01, {("de", "R@2kt"): 55.0, ("avg", "R@2kt"): 39.0}, p=0.01)
    t = comparison_table(base, cell, ["R@2kt", "MRR@10"])
    assert list(t.index) == ["de", "avg"]
    assert t.loc["de", "R@2kt Δ"] == 5.0 and t.loc["de", "R@2kt sig"] == "▲" and t.loc["avg", "R@2kt sig"] == "▼"
    assert "MRR@10 base" not in t.columns  # metrics the cell lacks are left out
    assert significance_marker(2.0, 0.2) == "" and significance_marker(0.0, 0.001) == ""
    assert significance_marker(1.0, float("nan")) == ""


@pytest.mark.parametrize("text, ok, fragment", [
    ("", False, "Type a query"), ("   ", False, "Type a query"), ("a" * 501, False, "at most 500"),
    ("🙂🙂 42 !!", False, "no letters"), ("Wie lang ist der Nil?", True, ""),
])
def test_check_query(text, ok, fragment):
    check = check_query(text)
    assert check.ok is ok and fragment in check.message
    if ok:
        assert check.lang == "de" and 0 < check.confidence <= 1


def test_check_query_flags_languages_the_encoder_was_not_trained_on():
    check = check_query("ফ্রান্সের রাজধানী কোথায়?", supported=("de", "en"))
    assert check.ok and check.lang == "bn" and "not among this encoder's training languages" in check.message


def test_rank_positions_are_one_based_and_stable():
    assert rank_positions(np.array([0.2, 0.9, 0.2, 0.5])).tolist() == [3, 1, 4, 2]


def test_reports_escape_untrusted_text():
    evil = pd.DataFrame({"query": ["<script>alert(1)</script> | x"], "score": [0.5]}, index=pd.Index(["de"], name="lang"))
    md = report_markdown("Title <b>", {"alpha": 0.01}, {"Table": evil}, link="?alpha=0.01", notes=["a note"])
    assert "\\|" in md and "## Table" in md and "- **view**: ?alpha=0.01" in md
    page = report_html(md)
    assert "<script>" not in page and "&lt;script&gt;" in page and "<table>" in page and "Title &lt;b&gt;" in page
    assert "| x" in page  # the escaped pipe is a cell's text again
    tex = to_latex(pd.DataFrame({"R@2kt_base": [1.234], "50%": [2.0]}), "a caption & more")
    assert r"R@2kt\_base" in tex and r"50\%" in tex and "1.23" in tex
    assert markdown_table(pd.DataFrame({"v": [float("nan"), 0.001]})).count("-") >= 1


def test_tune_threshold_maximises_dev_accuracy():
    sim = np.array([0.1, 0.2, 0.3, 0.6, 0.7, 0.8])
    label = np.array([0, 0, 0, 1, 1, 1])
    t = tune_threshold(sim, label)
    assert 0.3 < t < 0.6 and np.all((sim > t) == (label == 1))
    assert tune_threshold(np.array([0.5, 0.6]), np.array([1, 1])) < 0.5


@pytest.mark.parametrize("tables", [True, False])
def test_rkt_memo_equals_the_official_evaluation(tables, monkeypatch):
    """With lookup tables, and without (the lazy path of a corpus too big for them, which
    tokenises passages only as far as a window reaches)."""
    from xqg_core.retrieval import recall_tokens

    if not tables:
        monkeypatch.setattr(recall_tokens, "DENSE_RKT_LIMIT", 0)
    texts = ["The Nile is long . It flows north .", "Paris is the capital of France .", "Nothing here at all .",
             "It is a long river", "Nile is its name", "x", ""] * 2
    # "river Nile" only ever spans a junction; "river x Nile" runs over the whole one-token
    # passage "x", across two junctions
    answers = [["flows north"], ["capital"], ["yes"], ["absent"], ["river Nile"], ["river x"], ["its name"],
               ["river x Nile"], ["long river x"]]
    memo = RecallAtKTokensMemo(texts, answers)
    assert (memo.tables is not None) == tables
    if not tables:  # a window of 2 tokens reads the first passage or two, never all
        memo.outcomes(np.stack([np.arange(len(texts))] * len(answers)), 2)
        assert (memo.lengths >= 0).sum() <= 3
    rng = np.random.default_rng(0)
    for _ in range(40):
        ranked = np.stack([rng.permutation(len(texts)) for _ in answers])
        for k in (2, 5, 9, 14):  # token windows that end inside the first, second ... passage
            got = memo.outcomes(ranked, k)
            for q in range(len(answers)):
                official = recall_at_k_tokens([texts[d] for d in ranked[q]], answers[q], k, TokenCache())
                assert (np.isnan(got[q]) and official is None) or got[q] == float(official)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(texts=st.lists(st.lists(st.sampled_from(["a", "b", "c"]), max_size=3).map(" ".join), min_size=2, max_size=8),
       answers=st.lists(st.lists(st.sampled_from(["a b", "b a", "a b a", "c b c a", "c", " b"]), min_size=1, max_size=2),
                        min_size=1, max_size=4),
       seed=st.integers(0, 10_000), k=st.integers(1, 16))
def test_rkt_memo_tables_on_answers_across_junctions(texts, answers, seed, k):
    """Tiny passages over a three-word vocabulary: answers cross one junction, run over whole
    passages across two or more, sit in the cut last passage; the tables' settled hits and
    misses and the exact checks agree with the official evaluation."""
    memo = RecallAtKTokensMemo(texts, answers)
    rng = np.random.default_rng(seed)
    ranked = np.stack([rng.permutation(len(texts)) for _ in answers])
    got = memo.outcomes(ranked, k)
    for q in range(len(answers)):
        official = recall_at_k_tokens([texts[d] for d in ranked[q]], answers[q], k, TokenCache())
        assert (np.isnan(got[q]) and official is None) or got[q] == float(official)


def test_passage_queries_find_a_passages_rows_without_a_scan():
    from xqg_core.explore.live import PassageQueries

    frame = pd.DataFrame({"corpus": ["a", "a", "b", "a"], "passage_id": ["p1", "p2", "p1", "p1"],
                          "lang": ["de", "de", "de", "zh"], "i": [0, 0, 0, 0], "text": ["x", "y", "z", "w"]})
    by_passage = PassageQueries(frame)
    assert list(by_passage.of("a", "p1").text) == ["x", "w"] and list(by_passage.of("b", "p1").text) == ["z"]
    assert by_passage.of("a", "missing").empty and list(by_passage.of("a", "missing").columns) == list(frame.columns)


def test_csv_exports_neutralise_formula_cells():
    """OWASP: a cell opening with = + - @ tab or CR is prefixed with ' (numbers keep their sign)."""
    import csv
    import io

    from xqg_core.explore.reports import to_csv

    df = pd.DataFrame({"query": ["=1+1", "+SUM(A1)", "-x", "@cmd", "\tTab", "\rCR", "plain", "q-mark"],
                       "delta": [-0.5, 1.0, -2.0, 0.0, 3.0, -1.25, 2.0, 0.5]},
                      index=pd.Index(["=a", "b", "c", "d", "e", "f", "g", "h"], name="id"))
    rows = list(csv.reader(io.StringIO(to_csv(df), newline="")))
    assert rows[0] == ["id", "query", "delta"]
    assert [r[1] for r in rows[1:]] == ["'=1+1", "'+SUM(A1)", "'-x", "'@cmd", "'\tTab", "'\rCR", "plain", "q-mark"]
    assert [r[0] for r in rows[1:3]] == ["'=a", "b"]
    assert [float(r[2]) for r in rows[1:]] == df.delta.tolist()


def test_comparison_table_marks_significance_on_holm_adjusted_p():
    """Three languages with raw p 0.01, 0.02, 0.04: Holm gives 0.03, 0.04, 0.04 - all still under
    0.05 - while with 0.01, 0.04, 0.045 the last two become 0.08 and lose their marker; the
    macro row keeps its own p; a stored p_adj (Study v3) is used as it is."""
    from xqg_core.explore.tables import comparison_table

    def frame(values, p, p_adj=None):
        rows = {"lang": ["de", "es", "zh", "avg"], "metric": "R@2kt", "value": values, "p_value": p}
        return pd.DataFrame(rows if p_adj is None else {**rows, "p_adj": p_adj})

    base = frame([10.0, 10.0, 10.0, 10.0], [1.0] * 4)
    table = comparison_table(base, frame([11.0, 12.0, 13.0, 12.0], [0.01, 0.04, 0.045, 0.03]), ["R@2kt"])
    np.testing.assert_allclose(table["R@2kt p_adj"], [0.03, 0.08, 0.08, 0.03])
    assert list(table["R@2kt sig"]) == ["▲", "", "", "▲"]
    stored = comparison_table(base, frame([11.0, 12.0, 13.0, 12.0], [0.01, 0.04, 0.045, 0.03],
                                          p_adj=[0.5, 0.01, 0.5, 0.5]), ["R@2kt"])
    assert list(stored["R@2kt sig"]) == ["", "▲", "", ""]


def test_latex_export_is_plain_ascii_one_table_per_metric_with_readable_p():
    """What pdflatex needs: no raw Δ / ▲ / ▼ / †, p-values as 0.042 or < 0.001 (never 0.00), one
    booktabs table per metric (compiled where pdflatex is installed)."""
    import shutil
    import subprocess

    from xqg_core.explore.tables import comparison_table

    def frame(values, p):
        return pd.DataFrame({"lang": ["de", "hi", "avg"], "metric": "R@2kt", "value": values, "p_value": p})

    base = pd.concat([frame([10.0, 10.0, 10.0], [1.0] * 3), frame([20.0, 20.0, 20.0], [1.0] * 3).assign(metric="MRR@10")])
    cell = pd.concat([frame([11.0, 12.0, 11.5], [0.0004, 0.042, 0.01]),
                      frame([19.0, 20.0, 19.5], [0.5, 1.0, 0.6]).assign(metric="MRR@10")])
    table = comparison_table(base, cell, ["R@2kt", "MRR@10"]).rename(index={"hi": "hi †"})
    tex = to_latex(table, "xquad-xr & more, alpha = 0.01")
    assert tex.isascii(), [ch for ch in tex if not ch.isascii()]
    assert tex.count(r"\begin{tabular}") == 2 and tex.count(r"\toprule") == 2
    assert r"de & 10.00 & 11.00 & 1.00 & < 0.001 & < 0.001 & \textsuperscript{*}" in tex  # p, p_adj: never 0.00
    assert "& 0.042 & 0.042 &" in tex
    assert r"$\Delta$" in tex and r"\textsuperscript{*}" in tex and r"\textsuperscript{\dag}" in tex
    assert r"xquad-xr \& more" in tex
    if shutil.which("pdflatex"):
        doc = "\\documentclass{article}\\usepackage{booktabs}\\begin{document}" + tex + "\\end{document}"
        import tempfile
        from pathlib import Path

        with tempfile.TemporaryDirectory() as tmp:
            (Path(tmp) / "t.tex").write_text(doc, encoding="utf-8")
            done = subprocess.run(["pdflatex", "-interaction=nonstopmode", "t.tex"], cwd=tmp, capture_output=True)
            assert done.returncode == 0, done.stdout[-2000:]
