"""Findings: the study's answer claim by claim, written from the artifacts by
:mod:`xqg_core.explore.findings` (no number here is typed): per PLM, xQG on the test half at the
alpha selected on the dev half and at the paper's, each difference with its interval and Holm p,
every control beside it and the human-question upper bound; every metric and where xQG hurts;
the language ablation; PAWS-X; the encoder-strength curve. Each claim links to its view."""
from __future__ import annotations

from functools import partial

import streamlit as st

from pages import derived, ui
from xqg_core.explore.evidence import CONTROL_LABELS, OWN_ALPHA_VARIANTS, encoder_strength, has_halves
from xqg_core.explore.findings import ablation_findings, compact_tables, plm_findings, rounded
from xqg_core.explore.reports import p_text
from xqg_core.explore.study_report import study_report_html
from xqg_core.explore.tables import controls_table
from xqg_core.paper import PAPER_ALPHA


# Everything below is a function of the study and the PLM: computed once per process and shared by
# every session (read-only), so that a visit costs the server little.
@st.cache_resource(show_spinner=False)
def strength_table(root: str, n: int):
    return encoder_strength(ui.splits(arts), "xquad-xr", n, arts.encoders, ("xqg", *OWN_ALPHA_VARIANTS))


@st.cache_resource(show_spinner=False, max_entries=16)
def findings_of(root: str, plm: str, n: int):
    return (plm_findings(arts, plm, n, ui.splits(arts)), ablation_findings(ui.results_all(arts), plm),
            controls_table(ui.results_all(arts), "pawsx-adv", plm, PAPER_ALPHA, n, "drop"))


st.title("Findings")
arts = ui.artifacts()
splits, res_all = ui.splits(arts), ui.results_all(arts)
n = arts.n_max
plm = ui.select("Encoder (PLM)", "plm", arts.encoders)
ui.sync_url(["plm"])


def claims(lines: list[str]) -> None:
    """Sentences built by code from the artifacts; shown as typed (Markdown escaped)."""
    st.markdown("\n".join(f"- {ui.literal(line)}" for line in lines))


def link(page: str, label: str, **params) -> None:
    st.page_link(page, label=label, icon=":material/arrow_forward:",
                 query_params={k: str(v) for k, v in params.items()})


if not has_halves(splits):
    st.info("This study predates Study v3: it has no dev/test halves, intervals or Holm p-values. Its whole-set "
            f"tables at the paper's alpha {PAPER_ALPHA:g} follow; rebuild with `python -m xqg_core precompute "
            "--config configs/default.yaml` for the findings.")
    table = controls_table(res_all, "xquad-xr", plm, PAPER_ALPHA, n, "R@2kt")
    if not table.empty:
        st.dataframe(rounded(table), width="stretch")
    st.stop()

st.download_button("Study report (HTML, opens offline)", partial(study_report_html, arts), file_name="xqg-study.html",
                   mime="text/html", key="study-report", on_click="ignore",
                   help="Every finding, figures in colour, the tables with significance, the deviations and what "
                        "produced the study, in one file. Also: python -m xqg_core report --output study.html "
                        "--pdf study.pdf")
st.caption(f"n = {n} generated queries per language. Every number is from the **test half** of XQuAD's articles "
           "(seeded halves; alpha is chosen on the dev half, never on these questions). Values in percent, "
           "differences in points; [low, high]: paired bootstrap 95% interval (questions resampled within a "
           "language; the macro is the mean of the languages); p_adj: Holm over the languages of the cell.")

st.header("Does xQG help? Encoder strength against the gain")
strength = strength_table(str(arts.root), n)
macro = strength[strength.lang == "avg"]
claims([f"{r.plm}, {'xQG' if r.variant == 'xqg' else r.variant}: {r.gain:+.2f} [{r.ci_low:+.2f}, {r.ci_high:+.2f}] "
        f"(p_adj {p_text(r.p_adj)}) over the baseline's macro R@2kt {r.baseline:.2f}, at its dev-selected alpha "
        f"{r.alpha:g}" + (" (the grid's largest: a larger one may do better)" if r.at_grid_edge else "") + "."
        for r in macro.itertuples()])
st.plotly_chart(derived.strength_figure(arts, "xquad-xr", n), config=ui.PLOTLY_CONFIG, key="fig-strength")
link("pages/results.py", "Results · Test half (every PLM)", benchmark="xquad-xr", plm=plm, n=n, view="Test half")

found, ablations, drop = findings_of(str(arts.root), plm, n)
st.header(f"{ui.literal(plm)}: xquad-xr on the test half")
st.markdown(f"Alpha selected on the dev half (best macro R@2kt at n = {n}): **{found.selected_alpha:g}**.")
for ev in found.at:
    st.subheader(f"R@2kt at alpha = {ev.alpha:g} ({ev.label})")
    for name, lines in ev.claims.items():
        st.markdown(f"**{ui.literal(CONTROL_LABELS.get(name, name))}**")
        claims(lines)
    if ev.mde == ev.mde:
        st.caption(f"The test half detects a macro difference of {ev.mde:.2f} points with 80% power: a smaller "
                   "true effect may pass unseen.")
    over, versus = compact_tables(ev.table)
    st.dataframe(over, width="stretch")
    if not versus.empty:
        st.caption("Each control minus xQG on the same questions (negative: xQG does better):")
        st.dataframe(versus, width="stretch")
    link("pages/results.py", f"Results at alpha = {ev.alpha:g}", benchmark="xquad-xr", plm=plm, alpha=ev.alpha,
         n=n, view="Test half")

st.subheader(f"Every metric, xQG vs baseline (alpha = {found.selected_alpha:g})")
claims([f"{metric}: {text}" for metric, text in found.metrics.items()] +
       [f"Where xQG hurts (significant macro loss): {', '.join(found.hurt) or 'no metric'}."])

st.header(f"{ui.literal(plm)}: which generated language carries the effect")
for alpha, gains, p_values, pattern in ablations:
    st.markdown(f"Whole question set, alpha = {alpha:g}: {ui.literal(pattern)} (R@2kt gain over the baseline).")
    st.dataframe(rounded(gains), width="stretch")
    link("pages/results.py", "Results · Ablation", benchmark="xquad-xr", plm=plm, alpha=alpha, n=n, view="Ablation")

st.header(f"{ui.literal(plm)}: robustness to adversarial near-duplicates (PAWS-X)")
if drop.empty:
    st.info("This study has no PAWS-X cells for this PLM.")
else:
    r, p = drop.loc["avg"], rounded(drop.loc[["avg"], ["xQG p", "shuffled p", "xQG vs shuffled p"]]).loc["avg"]
    claims([f"Adversarial drop (clean - adversarial Acc@1, label-0 rows, every item), macro, alpha = "
            f"{PAPER_ALPHA:g}: baseline {r['baseline']:.2f}; xQG {r['xQG Δ']:+.2f} (p {p['xQG p']}); shuffled "
            f"{r['shuffled Δ']:+.2f} (p {p['shuffled p']}); xQG - shuffled {r['xQG - shuffled']:+.2f} "
            f"(p {p['xQG vs shuffled p']}). A smaller drop is more robust; raw p (no halves for PAWS-X)."])
    st.dataframe(rounded(drop), width="stretch")
    link("pages/robustness.py", "Robustness (PAWS-X)", plm=plm, alpha=PAPER_ALPHA, n=n)
