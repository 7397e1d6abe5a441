"""Live search: a query in any language against the shipped English passages, baseline and
xQG-augmented top-k side by side, with rank changes and each hit's generated queries."""
from __future__ import annotations

import time

import pandas as pd
import streamlit as st

from pages import exports, ui
from xqg_core.explore.live import check_query, corpus_coverage, example_queries, search_titles, vital_topics

arts = ui.index_artifacts("Live search")
c = ui.cell_controls(arts, ["xquad-xr"], exact_alpha=False)
plm, alpha, n = c["plm"], c["alpha"], c["n"]
k_k = ui.bound("k", 10, lambda v: 1 <= v <= 50, cast=int)
k = st.sidebar.slider("top k", 1, 50, key=k_k)
keys = [*c["keys"], k_k]
study = ui.study(arts)
passages = study.corpora["xquad-xr"] if study is not None else None
docids = ui.table(str(arts.root), "corpora/xquad-xr.parquet").docid.tolist()

examples = example_queries(study)
st.markdown(f"Searches the {len(docids):,} English xquad-xr passages (XQuAD + Vital Articles) with `{plm}`.")
if passages is not None:
    with st.expander("What the corpus holds: passages by source and topic, and a title search"):
        topics = vital_topics()
        st.dataframe(corpus_coverage(passages, topics), hide_index=True, width="stretch")
        k_title = ui.bound("title", "", lambda v: isinstance(v, str))
        title_query = st.text_input("Find an article by title (case, width and underscores ignored)", key=k_title,
                                    max_chars=200)
        keys.append(k_title)
        if title_query.strip():
            found = search_titles(passages, title_query, topics)
            if found.empty:
                st.info(f"No article title contains '{ui.literal(title_query.strip())}': the corpus does not hold "
                        "it, so no query can retrieve it.")
            else:
                st.dataframe(found, hide_index=True, width="stretch")
if len(examples):
    labels = ["(type your own)"] + [f"{r.source} · {r.lang} · {r.query}" for r in examples.itertuples()]
    pick = st.selectbox("Example queries (real questions; seven study languages and the seven XOR-TyDi languages)",
                        range(len(labels)), format_func=lambda i: labels[i], key="example")
    if pick and st.session_state.get("_last_example") != pick:
        st.session_state["q"] = examples["query"].iloc[pick - 1]
    st.session_state["_last_example"] = pick
k_query = ui.bound("q", "", lambda v: isinstance(v, str))
def typed_own_query() -> None:
    """A query typed by hand is nobody's example: the picker goes back to "(type your own)"."""
    st.session_state["example"] = st.session_state["_last_example"] = 0


text = st.text_input("Query (any language)", key=k_query, max_chars=2000, on_change=typed_own_query)
keys.append(k_query)
ui.sync_url(keys)



encoder = ui.encoder(plm)
check = check_query(text, getattr(encoder.spec, "languages", None))
if not check.ok:
    st.info(check.message)
    st.stop()
if check.message:
    st.warning(check.message)
index = ui.live_index(arts, plm)
start = time.perf_counter()
vector = encoder.encode_queries([text.strip()])[0]
encoded = time.perf_counter()
hits = index.search(vector, alpha, n, k)
done = time.perf_counter()
st.caption(f"Detected language: {check.lang} (p = {check.confidence:.2f}). Server time: encode "
           f"{1000 * (encoded - start):.0f} ms + search {1000 * (done - encoded):.0f} ms.")


def describe(ids) -> dict[str, list[str]]:
    if passages is None:
        return {"title": ["" for _ in ids], "passage": ["" for _ in ids]}
    return {"title": [passages[i].title for i in ids], "passage": [passages[i].text for i in ids]}


aug = pd.DataFrame({"rank": hits["rank"], "score": hits["score"], "baseline rank": hits["baseline rank"],
                    "rank change": [f"{c:+d}" if c else "=" for c in hits["rank change"]], "docid": hits["docid"],
                    **describe(hits["passage"])})
base = pd.DataFrame({"rank": hits["rank"], "score": hits["baseline score"], "xQG rank": hits["xQG rank of baseline hit"],
                     "docid": hits["baseline docid"], **describe(hits["baseline top"])})
st.caption("Ranks first: the two scores are on different scales. A baseline score is a cosine (unit vectors, "
           f"at most 1); an xQG score is (1 - alpha) <q, p> + alpha <q, S_n(p)>, where S_n(p) sums {7 * n} query "
           "vectors (norm ~20-30), so it runs above 1. Compare scores within a column, never across. Each hit in "
           "full below the tables.")
left, right = st.columns(2)
left.markdown(f"**xQG (alpha = {alpha:g}, n = {n})**")
left.dataframe(aug, hide_index=True, width="stretch", column_config={"score": st.column_config.NumberColumn(format="%.4f")})
right.markdown("**Baseline (alpha = 0)**")
right.dataframe(base, hide_index=True, width="stretch", column_config={"score": st.column_config.NumberColumn(format="%.4f")})

st.subheader("A hit in full, with its generated queries")
# the labels themselves are the options: a new ranking is a new list, so the picker never keeps
# a label of the previous query's hits over the new hits' queries
hit_labels = [f"xQG #{r} {d}" for r, d in zip(hits["rank"], hits["docid"])]
hit_labels += [f"baseline #{r} {d}" for r, d in zip(hits["rank"], hits["baseline docid"])]
chosen = st.selectbox("Hit", hit_labels, key="hit")
side, position = ("xQG", aug) if chosen.startswith("xQG") else ("baseline", base)
row = position.iloc[hit_labels.index(chosen) % len(position)]
st.text(f"{side} rank {row['rank']} · {row['docid']} · {row['title']}\n\n{row['passage']}")  # plain text, never Markdown
mine = ui.generated_queries(arts).of("xquad-xr", row["docid"])
st.dataframe(mine[["lang", "i", "text"]], hide_index=True, width="stretch")

with st.expander("Export this view"):
    exports.download_table(aug.set_index("rank"), "live-xqg", f"Live search, xQG top {k}")
    exports.download_table(base.set_index("rank"), "live-baseline", f"Live search, baseline top {k}")
    exports.report_downloads("xQG Explorer - live search", {"query": text, "detected language": check.lang,
                                                       "encoder": plm, "alpha": f"{alpha:g}", "n": n},
                        {"xQG": aug.set_index("rank"), "Baseline": base.set_index("rank")})
