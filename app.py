"""xQG Explorer: the overview page and the navigation (``streamlit run app.py``).

The pages are thin views over ``xqg_core``: they read ``cached_artifacts/`` (written by
``python -m xqg_core precompute``), never train or generate, and encode at most one live query.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

st.set_page_config(page_title="xQG Explorer", layout="wide")


def overview() -> None:
    from pages import ui
    from xqg_core.explore.reports import p_text
    from xqg_core.explore.tables import SIGNIFICANCE_LEVEL, headline, unsupported_of
    from xqg_core.paper import PAPER_AVERAGES_R2KT, PAPER_CITATION, PAPER_SETTING, paper_table
    from xqg_core.study.artifacts import commits_since

    st.title("xQG Explorer")
    st.markdown(
        "Does augmenting passage embeddings with cross-lingually **generated queries** (xQG, Zhuang et al., "
        "SIGIR 2023) make cross-lingual dense retrieval better per language, and more or less robust to "
        "adversarial near-duplicates (PAWS-X)? Each passage embedding is mixed with the **sum** of the "
        "query-side embeddings of its generated queries (n per language, every language):")
    st.latex(r"p' = (1-\alpha)\,p + \alpha \sum_{\ell}\sum_{i<n} E_q(q_{p,\ell,i})")
    arts = ui.artifacts()
    m = arts.manifest
    cfg = m["config"]
    res = ui.results_of(arts)
    controls = ui.cell_controls(arts, ["xquad-xr"], exact_alpha=False)
    ui.sync_url(controls["keys"])
    plm, alpha, n = controls["plm"], controls["alpha"], controls["n"]

    st.header(f"Headline numbers of this study ({plm}, alpha = {alpha:g}, n = {n})")
    heads = headline(res, plm, alpha, n)
    labels = {"xquad-xr R@2kt": "xquad-xr macro R@2kt", "xquad-xr R@5kt": "xquad-xr macro R@5kt",
              "pawsx-adv drop": "PAWS-X adversarial drop (Acc@1 points, label-0 rows)"}
    cols = st.columns(len(heads) or 1)
    for col, (key, h) in zip(cols, heads.items()):
        interval = f" [{h.ci_low:+.2f}, {h.ci_high:+.2f}]" if np.isfinite(h.ci_low) else ""
        # only a significant difference is drawn green or red (a smaller drop is the better one)
        colour = ("inverse" if key.endswith("drop") else "normal") if h.significant else "off"
        col.metric(labels.get(key, key), f"{h.value:.2f}", f"{h.delta:+.2f}{interval} vs baseline {h.baseline:.2f}",
                   delta_color=colour, delta_arrow="auto" if h.significant else "off")
        col.caption(f"{'p_adj' if interval else 'p'} = {p_text(h.p)}"
                    + ("" if h.significant else f": not significant at {SIGNIFICANCE_LEVEL}"))
    st.caption("Baseline = the same encoder without augmentation (alpha = 0). A smaller drop means more robust. "
               "[low, high]: paired bootstrap 95% interval of the difference; p_adj: the macro row's paired test "
               "(Holm adjusts the languages' p). The whole question set: the Findings page reports the test half "
               "at the alpha chosen on the dev half.")
    own = headline(res, plm, alpha, n, macro="avg_supported")
    missing = unsupported_of(arts).get(plm, {}).get("xquad-xr", [])
    if missing and own:
        st.caption(f"{plm} was not trained on {', '.join(missing)}: over its own languages only (avg_supported), " +
                   "; ".join(f"{labels.get(key, key)} {h.value:.2f} vs baseline {h.baseline:.2f} ({h.delta:+.2f})"
                             for key, h in own.items() if key.startswith("xquad-xr")) + ".")

    st.header("What produced these artifacts")
    corpora = m["corpora"]
    benchmarks = "; ".join(f"`{b}` ({len(arts.table(f'queries/{b}.parquet')):,} queries)"
                           for b in dict.fromkeys(res.benchmark) if b != "pawsx-pair")
    sig = m["significance"]
    facts = [
        f"**Benchmarks**: {benchmarks}",
        "**Corpora**: " + "; ".join(f"`{c}` {info['num_passages']:,} passages" for c, info in corpora.items()),
        "**Encoders (PLMs)**: " + ", ".join(f"`{e}`" for e in cfg["encoders"]),
        f"**Generator**: `{m['models']['generator']['name']}`, {cfg['n_max']} queries x {len(cfg['generation_langs'])} "
        f"languages ({', '.join(cfg['generation_langs'])}) per passage, seed {cfg['seed']}",
        f"**Grid**: {len(cfg['alphas'])} alphas from {min(cfg['alphas']):g} to {max(cfg['alphas']):g}, n = 1..{cfg['n_max']}; "
        f"significance: {sig['test']} ({sig['resamples']:,} resamples) vs {sig['baseline']}",
        f"**Built** {m['created']} from code `{m['code_version'][:12]}`",
    ]
    ahead = commits_since(m["code_version"]) if m["code_version"] != "unknown" else None
    if ahead:
        facts.append(f"**This checkout** has {ahead} commit{'s' if ahead > 1 else ''} past that code in what "
                     "computes a study (xqg_core's data, models, retrieval, study and pipeline; configs; "
                     "requirements): the numbers shown are the build's; rebuild to see what the current code computes")
    st.markdown("\n".join(f"- {line}" for line in facts))
    with st.expander("Data checksums, models and stage timings (manifest)"):
        st.dataframe(pd.DataFrame(sorted(m["data"].items()), columns=["file", "sha1"]), hide_index=True)
        st.json(m["models"], expanded=False)
        st.dataframe(pd.DataFrame(sorted(m["stage_seconds"].items()), columns=["stage", "seconds"]), hide_index=True)
    ui.deviation_note(arts)

    st.header("The paper's reported numbers (not this study)")
    st.caption(f"{PAPER_CITATION}. Setting: {PAPER_SETTING}. Different data, models and generator from the study "
               "above: compare trends, not values.")
    for metric in ("R@2kt", "R@5kt"):  # full width: every language and the average show
        st.markdown(f"**Paper, XOR-TyDi dev, {metric}**")
        st.dataframe(paper_table(metric).style.format("{:.2f}"), width="stretch")
    st.caption("Averages stated in the paper's text (R@2kt, baseline -> xQG): " + "; ".join(
        f"{k} {a:.1f} -> {b:.1f}" for k, (a, b) in PAPER_AVERAGES_R2KT.items()))


navigation = st.navigation([
    st.Page(overview, title="Overview", icon=":material/home:", default=True),
    st.Page("pages/findings.py", title="Findings", icon=":material/fact_check:"),
    st.Page("pages/results.py", title="Results", icon=":material/table_chart:"),
    st.Page("pages/robustness.py", title="Robustness (PAWS-X)", icon=":material/shield:"),
    st.Page("pages/embedding_shift.py", title="Embedding shift", icon=":material/scatter_plot:"),
    st.Page("pages/live_search.py", title="Live search", icon=":material/search:"),
    st.Page("pages/why_moved.py", title="Why did it move?", icon=":material/troubleshoot:"),
    st.Page("pages/your_questions.py", title="Your questions", icon=":material/upload_file:"),
    st.Page("pages/your_passage.py", title="Your passage", icon=":material/edit_note:"),
    st.Page("pages/status.py", title="Installation", icon=":material/settings:"),
])
navigation.run()
