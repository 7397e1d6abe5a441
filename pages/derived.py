"""What the pages derive from the study and share across sessions: each built once per server
process behind ``st.cache_resource`` (read-only; :mod:`pages.ui` holds the loaders they start from)."""
from __future__ import annotations

import os

import streamlit as st

from pages.ui import artifacts_at, splits_at, study_at
from xqg_core.study.artifacts import Artifacts


@st.cache_resource(show_spinner=False, max_entries=64)
def _test_half_tables(root: str, benchmark: str, plm: str, n: int, metric: str) -> list:
    from xqg_core.explore.evidence import evidence_table, report_cells
    from xqg_core.explore.findings import compact_tables

    halves = splits_at(root)
    test = halves[halves.split == "test"]
    return [(a, why, compact_tables(evidence_table(test, benchmark, plm, a, n, metric, variants)))
            for a, why, variants in report_cells(halves, benchmark, plm, n, artifacts_at(root).alphas)]


def test_half_tables(arts: Artifacts, benchmark: str, plm: str, n: int, metric: str) -> list:
    """``(alpha, why, (differences over the baseline, each control vs xQG))`` per reported cell of
    the test half (:func:`xqg_core.explore.evidence.report_cells`), computed once per process."""
    return _test_half_tables(str(arts.root), benchmark, plm, n, metric)


@st.cache_resource(show_spinner=False, max_entries=16)
def _strength_figure(root: str, benchmark: str, n: int):
    from xqg_core.explore.charts import strength_figure
    from xqg_core.explore.evidence import OWN_ALPHA_VARIANTS, encoder_strength

    strength = encoder_strength(splits_at(root), benchmark, n, artifacts_at(root).encoders,
                                ("xqg", *OWN_ALPHA_VARIANTS))
    return strength_figure(strength, n)


def strength_figure(arts: Artifacts, benchmark: str, n: int):
    """The encoder-strength figure (test half, each variant at its dev-selected alpha), built once
    per process and shared (read-only)."""
    return _strength_figure(str(arts.root), benchmark, n)


@st.cache_resource(show_spinner=False)
def _question_positions(root: str) -> dict[str, int]:
    return {q_id: i for i, q_id in enumerate(artifacts_at(root).table("queries/xquad-xr.parquet").id.tolist())}


def question_positions(arts: Artifacts) -> dict[str, int]:
    """Each xquad-xr question id's position in the index (shared, read-only)."""
    return _question_positions(str(arts.root))


@st.cache_resource(show_spinner=False)
def _passage_texts(root: str, data_dir: str | None) -> list[str]:
    return [p.text for p in study_at(root, data_dir).corpora["xquad-xr"]]


def passage_texts(arts: Artifacts) -> list[str]:
    """The xquad-xr passages' texts in index order (shared, read-only)."""
    return _passage_texts(str(arts.root), os.environ.get("XQG_DATA_DIR"))


@st.cache_resource(show_spinner=False)
def token_cache():
    """The R@kt tokenizer's per-passage cache, shared by every session (passages are tokenised once)."""
    from xqg_core.explore.window import window_tokenizer

    return window_tokenizer()
