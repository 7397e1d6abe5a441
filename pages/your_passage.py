"""Your passage: the shipped generator writes queries for a passage you paste, and a query you
type ranks it among the study's passages before and after augmentation."""
from __future__ import annotations

import time

import streamlit as st

from pages import exports, ui
from xqg_core.explore.live import check_query
from xqg_core.explore.own_passage import MAX_PASSAGE_CHARS, own_passage, own_passage_queries, rank_among

arts = ui.index_artifacts("Augment your own passage")
c = ui.cell_controls(arts, ["xquad-xr"], exact_alpha=False)
plm, alpha, n = c["plm"], c["alpha"], c["n"]
ui.sync_url(c["keys"])
cfg = arts.manifest["config"]
langs, n_max = list(cfg["generation_langs"]), int(cfg["n_max"])
st.markdown(
    f"Paste an English passage: the shipped generator (`me5-qg`) writes {n_max} queries in each of "
    f"{len(langs)} languages ({', '.join(langs)}), as the precompute does for the study's passages; each is "
    f"encoded with `{plm}` and ranked against the study's passages. Then type a query to see where your passage "
    "ranks among them before and after augmentation, p' = (1 - alpha) p + alpha S_n(p).")
study = ui.study(arts)
if study is not None:
    xquad = [p for p in study.corpora["xquad-xr"] if p.docid.startswith("xquad-")]
    examples = list({p.title: p for p in reversed(xquad)}.values())[::-1]  # each article's first paragraph
    labels = ["(paste your own)"] + [f"{p.title.replace('_', ' ')} · {p.text[:80]}…" for p in examples]

    def use_example() -> None:
        pick = st.session_state["own_example"]
        if pick:
            st.session_state["own_title"] = examples[pick - 1].title.replace("_", " ")
            st.session_state["own_text"] = examples[pick - 1].text

    st.selectbox(f"Or pick an example: the first paragraph of each of the {len(examples)} XQuAD articles (English)",
                 range(len(labels)), format_func=lambda i: labels[i], key="own_example", on_change=use_example)
title = st.text_input("Title", key="own_title", max_chars=200)
text = st.text_area(f"Passage (English, up to ~100 words are read like the study's passages; at most "
                    f"{MAX_PASSAGE_CHARS:,} characters)", key="own_text", height=140)


@st.cache_resource(show_spinner="Loading the generator ...")
def generator():
    from xqg_core.models.generate import load_generator

    return load_generator("me5-qg", device="cpu")


@st.cache_resource(show_spinner=False, max_entries=16)
def augment(title: str, text: str, plm: str):
    start = time.perf_counter()
    own = own_passage(title, text, generator(), ui.encoder(plm), langs, n_max, int(cfg["seed"]))
    return own, time.perf_counter() - start


if st.button("Generate the queries", key="generate", type="primary"):
    if not text.strip():
        st.warning("The passage is empty.")
        st.stop()
    if len(text) > MAX_PASSAGE_CHARS:  # said, not cut: a widget limit would drop the text silently
        st.warning(f"The passage has {len(text):,} characters; at most {MAX_PASSAGE_CHARS:,} are read. Shorten it "
                   "to the paragraph you want queries for.")
        st.stop()
    st.session_state["own_passage"] = (title, text)  # what was generated for: edits wait for the button
if "own_passage" not in st.session_state:
    st.info("Paste a title and a passage, then press the button.")
    st.stop()
generated_for = st.session_state["own_passage"]
if generated_for != (title, text):
    st.caption("The passage was edited: press the button to generate queries for the new text.")
with st.spinner(f"Writing {n_max * len(langs)} queries and encoding them ..."):
    own, seconds = augment(*generated_for, plm)
index = ui.live_index(arts, plm)
table = own_passage_queries(own, index.P)
found = table["in top 10"].mean() if len(table) else 0.0
st.subheader("Generated queries")
st.text(f"For: {generated_for[0] or '(no title)'}")  # plain text: the title is the user's
st.caption(f"{len(table)} queries in {seconds:.1f} s (generation and encoding, cached for this passage). Rank: "
           f"your passage's rank for the query among itself and the {len(index.P):,} study passages (baseline "
           f"embeddings); {100 * found:.0f}% of the queries put it in the top 10. Detected: langid's language.")
st.dataframe(table, hide_index=True, width="stretch",
             column_config={"p(detected)": st.column_config.NumberColumn(format="%.2f")})

with st.expander("Export this view"):
    exports.download_table(table.set_index(["lang", "i"]), "your-passage-queries", "Generated queries of a typed passage")

st.subheader("Your query")
query = st.text_input("A query in any language", key="own_query", max_chars=2000)
encoder = ui.encoder(plm)
check = check_query(query, getattr(encoder.spec, "languages", None))
if not check.ok:
    st.info(check.message)
    st.stop()
q = encoder.encode_queries([query.strip()])[0]
before = rank_among(own.p, index.P, q)
corpus_after = index.P if alpha == 0 else (1 - alpha) * index.P + alpha * index.S[n - 1]
after = rank_among(own.augmented(alpha, n), corpus_after, q)
c1, c2 = st.columns(2)
c1.metric("Rank before augmentation (alpha = 0)", before)
c2.metric(f"Rank after (alpha = {alpha:g}, n = {n})", after, f"{before - after:+d} places", delta_color="normal")
st.caption(f"Detected language: {check.lang} (p = {check.confidence:.2f}). Every study passage is augmented with "
           "its own shipped queries at the same alpha and n; ties count against your passage.")
