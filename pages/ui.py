"""Shared pieces of the dashboard's pages: cached loaders, URL-bound controls, export widgets.

Not a page itself (app.py lists the pages with ``st.navigation``). Heavy objects and the
read-only results frames sit behind ``st.cache_resource``, other tables behind
``st.cache_data``; every control is bound to a key of ``st.query_params`` so that a copied
URL reproduces the view.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Sequence

import pandas as pd
import streamlit as st

from xqg_core.errors import XqgError
from xqg_core.paths import ARTIFACTS_DIR
from xqg_core.study.artifacts import ArtifactError, Artifacts, load_artifacts, read_results, resolve_study

ARTIFACTS_ENV = "XQG_ARTIFACTS"  # another artifacts directory (tests, the small config)


def _leave_pages_directory_mode() -> None:
    """Hand a deep link to app.py's navigation.

    Because the project has a ``pages/`` folder, Streamlit runs a fresh process's first
    script run in its old file-based mode: a first visit of ``/results`` runs this page file
    by itself (no wide layout, every file of ``pages/`` in the sidebar) until app.py has
    called ``st.navigation`` once. Every page imports this module first, so that run is
    turned into a rerun of app.py, which resolves the same URL through ``st.navigation``.
    """
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False  # what st.navigation sets for the whole process
        st.rerun()


_leave_pages_directory_mode()


# ----------------------------------------------------------------------------- loading
def artifacts_dir() -> Path | None:
    path = os.environ.get(ARTIFACTS_ENV)
    return Path(path) if path else None


@st.cache_resource(show_spinner="Checking the precomputed artifacts ...")
def artifacts_at(root: str | None) -> Artifacts:
    return load_artifacts(root, read_content=True)  # once per process: a file changed in place is caught


def index_artifacts(title: str) -> Artifacts:
    """A page over the shipped xquad-xr index: its title, then the artifacts, or a note (and
    the page stops) when they hold no index."""
    st.title(title)
    arts = artifacts()
    if not any(f.startswith("index/") for f in arts.manifest["files"]):
        st.info("These artifacts hold no xquad-xr index (xquad-xr is not in the config).")
        st.stop()
    return arts


def artifacts() -> Artifacts:
    """The shipped study, or a page that says what is wrong and how to rebuild it."""
    try:
        return artifacts_at(str(artifacts_dir() or ARTIFACTS_DIR))
    except ArtifactError as exc:
        st.error(f"The precomputed study cannot be read: {literal(exc)}")
        st.markdown("To rebuild it (3-4 hours on a 2-core CPU; `BENCHMARKS.md`):")
        st.code("python -m xqg_core precompute --config configs/default.yaml", language="bash")
        st.stop()


# The results frames are shared, not copied per run (st.cache_data would unpickle a copy on
# every slider step): pages only filter them, never write into them.
@st.cache_resource(show_spinner=False)
def results(root: str) -> pd.DataFrame:
    return read_results(Path(root) / "results.parquet")


def results_of(arts: Artifacts) -> pd.DataFrame:
    return results(str(arts.root))


@st.cache_resource(show_spinner=False)
def splits_at(root: str) -> pd.DataFrame | None:
    path = Path(root) / "splits.parquet"  # its checksum was verified with the study's
    return pd.read_parquet(path) if path.is_file() else None


def splits(arts: Artifacts) -> pd.DataFrame | None:
    """``splits.parquet`` (dev / test halves), shared like the results frames; None before Study v3."""
    return splits_at(str(arts.root))


@st.cache_resource(show_spinner=False)
def _results_all(root: str) -> pd.DataFrame:
    return read_results(Path(root) / "results.parquet", variant=None)


def results_all(arts: Artifacts) -> pd.DataFrame:
    """Every variant's rows: xQG and the controls (column ``variant``, with ``p_vs_xqg``)."""
    return _results_all(str(arts.root))


@st.cache_resource(show_spinner="Reading passages and queries ...")
def study_at(root: str, data_dir: str | None):
    return resolve_study(artifacts_at(root), data_dir)


def study(arts: Artifacts):
    """Corpora and queries with their texts (shipped in ``texts/``; for artifacts without them,
    from the data directory), or None with a message."""
    try:
        return study_at(str(arts.root), os.environ.get("XQG_DATA_DIR"))
    except XqgError as exc:
        st.warning(f"Texts are not available: {literal(exc)}")
        st.markdown("Numbers still show; passages and queries need the official files. "
                    "`python -m xqg_core data list` names them, and on a machine with internet:")
        st.code("python -m xqg_core data download xquad --to DATA\npython -m xqg_core data download pawsx --to DATA\n"
                "export XQG_DATA_DIR=DATA", language="bash")
        return None


@st.cache_resource(show_spinner=False)
def table(root: str, rel: str) -> pd.DataFrame:
    """A shipped table, shared read-only (unpickling a copy per run cost 0.4 s for the
    generated queries; pandas' copy-on-write keeps a page's derived frames apart)."""
    return pd.read_parquet(Path(root) / rel)


@st.cache_resource(show_spinner=False)
def _generated_queries(root: str):
    from xqg_core.explore.live import PassageQueries

    return PassageQueries(pd.read_parquet(Path(root) / "generated_queries.parquet"))


def generated_queries(arts: Artifacts):
    """Each passage's generated queries by ``(corpus, docid)`` (:class:`xqg_core.explore.live.PassageQueries`)."""
    return _generated_queries(str(arts.root))


@st.cache_resource(show_spinner="Loading the index ...")
def _live_index(root: str, plm: str):
    from xqg_core.explore.live import LiveIndex

    return LiveIndex(artifacts_at(root), plm)


def live_index(arts: Artifacts, plm: str):
    """The shipped xquad-xr passages of one PLM (P and S_n), loaded once per process."""
    return _live_index(str(arts.root), plm)


@st.cache_resource(show_spinner=False, max_entries=64)
def _pawsx_flips(root: str, data_dir: str | None, plm: str, alpha: float, n: int) -> pd.DataFrame:
    from xqg_core.explore.recompute import pawsx_flips

    return pawsx_flips(artifacts_at(root), study_at(root, data_dir), plm, alpha, n)


def pawsx_flips(arts: Artifacts, plm: str, alpha: float, n: int) -> pd.DataFrame:
    """The PAWS-X items xQG flipped in one cell, computed once per process and shared by every
    session (read-only; :func:`xqg_core.explore.recompute.pawsx_flips`)."""
    return _pawsx_flips(str(arts.root), os.environ.get("XQG_DATA_DIR"), plm, alpha, n)


@st.cache_resource(show_spinner=False, max_entries=64)
def _question_changes(root: str, plm: str, alpha: float, n: int, metric: str) -> pd.DataFrame:
    from xqg_core.explore.recompute import question_changes

    return question_changes(artifacts_at(root), plm, alpha, n, metric)


def question_changes(arts: Artifacts, plm: str, alpha: float, n: int, metric: str = "R@2kt") -> pd.DataFrame:
    """Each xquad-xr question's outcome at the baseline and at (alpha, n), read from the stored
    outcomes once per process and shared by every session (read-only)."""
    return _question_changes(str(arts.root), plm, alpha, n, metric)


def delta_text(deltas: Sequence[float], p_values: Sequence[float]) -> list[str]:
    """Differences as "+0.52 ▲": signed, with the significance marker (p < 0.05; pass Holm's
    ``p_adj`` where a cell has one); "-" when undefined."""
    import numpy as np

    from xqg_core.explore.tables import significance_marker

    return [f"{d:+.2f} {significance_marker(d, p)}".strip() if np.isfinite(d) else "-" for d, p in zip(deltas, p_values)]


# the language column of a comparison table: wide enough for "avg_supported" and "hi †", pinned
# so that it stays in view when a narrow window scrolls the metrics
LANG_COLUMN = {"_index": st.column_config.Column("lang", width=112, pinned=True)}


def comparison_view(table: pd.DataFrame, metrics: Sequence[str], unsupported: Sequence[str] = ()):
    """A comparison table that fits the page: per metric the xQG value and "Δ" with its
    significance marker (the baseline and p-values stay in :func:`full_comparison_view` and
    the exports); languages the PLM was not trained on marked " †"."""
    from xqg_core.explore.tables import mark_unsupported

    shown = pd.DataFrame(index=pd.Index(mark_unsupported(table.index, unsupported), name="lang"))
    for m in metrics:
        if f"{m} xQG" not in table:
            continue
        shown[f"{m} xQG"] = table[f"{m} xQG"].to_numpy()
        shown[f"{m} Δ"] = delta_text(table[f"{m} Δ"], table[f"{m} p_adj"])
    return shown.style.format({c: "{:.2f}" for c in shown.columns if c.endswith("xQG")})


def full_comparison_view(table: pd.DataFrame, unsupported: Sequence[str] = ()):
    """Every column of a comparison table (baseline, xQG, Δ, p, marker), languages marked."""
    from xqg_core.explore.tables import mark_unsupported

    shown = table.set_axis(pd.Index(mark_unsupported(table.index, unsupported), name="lang"))
    return shown.style.format({c: "{:.2f}" for c in shown.columns if c.endswith(("base", "xQG", "Δ"))} |
                              {c: "{:.3g}" for c in shown.columns if c.endswith((" p", " p_adj"))})


def controls_view(table: pd.DataFrame, unsupported: Sequence[str] = ()):
    """The controls table for display: gains as "+0.52 ▲" with their significance, languages marked."""
    from xqg_core.explore.tables import mark_unsupported

    shown = table.set_axis(pd.Index(mark_unsupported(table.index, unsupported), name="lang"))
    for delta, p in (("xQG Δ", "xQG p"), ("shuffled Δ", "shuffled p"), ("xQG - shuffled", "xQG vs shuffled p")):
        shown[delta] = delta_text(table[delta], table[p])
    return shown.style.format({"baseline": "{:.2f}", "xQG": "{:.2f}", "shuffled": "{:.2f}"} |
                              {c: "{:.3g}" for c in shown.columns if c.endswith((" p", " p_adj"))})


def unsupported_caption(arts: Artifacts, benchmark: str, plms: Sequence[str], container=st) -> list[str]:
    """Say which languages each PLM was not trained on (marked †) and what avg_supported is;
    returns those of the first PLM."""
    from xqg_core.explore.tables import unsupported_of

    marks = unsupported_of(arts)
    notes = [f"{plm}: {', '.join(marks[plm][benchmark])}" for plm in plms if marks.get(plm, {}).get(benchmark)]
    if notes:
        container.caption("† a language the encoder was not trained on (" + "; ".join(notes) + "). `avg` is the "
                          "macro over every language; `avg_supported` over the encoder's own languages only, so "
                          "two encoders' `avg_supported` may cover different languages.")
    return marks.get(plms[0], {}).get(benchmark, []) if plms else []


@st.cache_resource(show_spinner="Loading the encoder ...")
def encoder(name: str):
    from xqg_core.models.encoders import load_encoder

    return load_encoder(name, device="cpu")


@st.cache_data(show_spinner=False, max_entries=512)
def _encoded_queries(plm: str, texts: tuple[str, ...]):
    return encoder(plm).encode_queries(list(texts))


def encode_queries_cached(plm: str) -> Callable[[Sequence[str]], Any]:
    """``plm``'s query encoder with its results kept per text list: the generated queries a
    drill-down shows (35 per passage, ~0.3 s to encode) are encoded once, not on every rerun."""
    return lambda texts: _encoded_queries(plm, tuple(texts))


def literal(text: str) -> str:
    """``text`` for an element that renders Markdown (a subheader, an error), shown as typed:
    every Markdown character escaped, so a file name or a message can format or link nothing."""
    import re

    return re.sub(r"([\\`*_{}\[\]()#+\-.!|<>~$:&])", r"\\\1", str(text))


# ----------------------------------------------------------------------------- URL-bound controls
def bound(key: str, default: Any, valid: Callable[[Any], bool] = lambda v: True, cast: Callable[[str], Any] = str) -> str:
    """Initialise ``st.session_state[key]`` once from the URL (if valid there) and return the key."""
    if key not in st.session_state:
        value = default
        raw = st.query_params.get(key)
        if raw is not None:
            try:
                candidate = cast(raw)
                if valid(candidate):
                    value = candidate
            except (TypeError, ValueError):
                pass
        st.session_state[key] = value
    elif not valid(st.session_state[key]):
        st.session_state[key] = default
    else:
        # re-set: a value left by the same key's widget on another page is otherwise dropped on a page switch
        st.session_state[key] = st.session_state[key]
    return key


def sync_url(keys: Sequence[str]) -> None:
    """Write the current values of ``keys`` into the URL."""
    st.query_params.update({k: str(st.session_state[k]) for k in keys if k in st.session_state})


def select(label: str, key: str, options: Sequence[Any], default: Any = None, container=st.sidebar, **kw) -> Any:
    options = list(options)
    bound(key, default if default in options else options[0], lambda v: v in options,
          cast=type(options[0]) if options else str)
    return container.selectbox(label, options, key=key, **kw)


def cell_controls(arts: Artifacts, benchmarks: Sequence[str], prefix: str = "", container=st.sidebar,
                  exact_alpha: bool = True) -> dict[str, Any]:
    """Benchmark, PLM, alpha (grid slider + optional exact value) and n, bound to the URL."""
    from xqg_core.paper import PAPER_ALPHA

    alphas = arts.alphas
    bench = select("Benchmark", f"{prefix}benchmark", benchmarks, container=container)
    plm = select("Encoder (PLM)", f"{prefix}plm", arts.encoders, container=container)
    nonzero = [a for a in alphas if a > 0]
    k_alpha = bound(f"{prefix}alpha", PAPER_ALPHA if PAPER_ALPHA in alphas else nonzero[0],
                    lambda v: v in alphas, cast=float)
    alpha = container.select_slider("alpha (grid)", options=alphas, key=k_alpha, format_func=lambda a: f"{a:g}",
                                    help="p' = (1 - alpha) p + alpha S_n(p); alpha = 0 is the baseline")
    k_n = bound(f"{prefix}n", arts.n_max, lambda v: 1 <= v <= arts.n_max, cast=int)
    n = container.slider("n (generated queries per language)", 1, arts.n_max, key=k_n)
    exact = None
    keys = [f"{prefix}benchmark", f"{prefix}plm", k_alpha, k_n]
    if exact_alpha:
        k_exact = bound(f"{prefix}exact", "", lambda v: isinstance(v, str))
        container.text_input("exact alpha (off-grid, recomputed live)", key=k_exact, placeholder="e.g. 0.013",
                             help="Leave empty to use the grid value. xquad-xr only.")
        raw = st.session_state[k_exact].strip()
        if raw:
            if _is_alpha(raw):
                exact = float(raw)
            else:
                container.warning(f"'{literal(raw)}' is not an alpha in [0, 1]; using the grid value.")
        keys.append(k_exact)
    return {"benchmark": bench, "plm": plm, "alpha": alpha, "n": n, "exact": exact, "keys": keys}


def _is_alpha(v: str) -> bool:
    try:
        return 0 <= float(v) <= 1
    except ValueError:
        return False


PLOTLY_CONFIG = {"toImageButtonOptions": {"format": "svg", "filename": "xqg-figure"}, "displaylogo": False}


def deviation_note(arts: Artifacts) -> None:
    devs = arts.manifest.get("deviations") or []
    if devs:
        with st.expander("Deviations from the paper (this study)"):
            for d in devs:
                st.markdown(f"- {literal(d)}")

