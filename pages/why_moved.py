"""Why did it move? One xquad-xr question: the passages that carried an answer into its R@kt
window at the baseline and with xQG (the rule counts an answer in any passage of the window),
then its gold passage's rank and generated queries by similarity to the question."""
from __future__ import annotations

import numpy as np
import streamlit as st

from pages import derived, exports, ui
from xqg_core.explore.recompute import gold_movement, query_contributions
from xqg_core.explore.window import (
    MARK_CLOSE,
    MARK_OPEN,
    answer_window,
    highlight,
    question_scores,
    ranking,
    why_window,
    window_change,
)

WINDOWS = {"R@2kt": 2000, "R@5kt": 5000}

arts = ui.index_artifacts("Why did it move?")
c = ui.cell_controls(arts, ["xquad-xr"], exact_alpha=False)
plm, alpha, n = c["plm"], c["alpha"], c["n"]
keys = list(c["keys"])
study = ui.study(arts)
if study is None:
    st.stop()
if alpha == 0:
    st.info("At alpha = 0 nothing is augmented; pick alpha > 0.")
    st.stop()

metric = ui.select("Metric (token window)", "why_metric", list(WINDOWS))
keys.append("why_metric")
changes = ui.question_changes(arts, plm, alpha, n, metric)
c1, c2 = st.columns(2)
direction = ui.select(f"Questions whose {metric}", "why_change", ["gained", "lost", "same", "all"], container=c1,
                      format_func=lambda v: {"gained": "xQG gained (miss -> hit)", "lost": "xQG lost (hit -> miss)",
                                             "same": "did not change", "all": "any"}[v])
langs = ["all", *changes.lang.unique()]
lang = ui.select("Question language", "why_lang", langs, container=c2)
keys += ["why_change", "why_lang"]
shown = changes[((changes.change == direction) | (direction == "all")) & ((changes.lang == lang) | (lang == "all"))]
counts = changes.change.value_counts()
st.caption(f"{plm}, alpha = {alpha:g}, n = {n}: {metric} gained on {counts.get('gained', 0)} questions and lost on "
           f"{counts.get('lost', 0)} of {len(changes):,} (stored per-question outcomes, official rule).")
if shown.empty:
    st.info("No question matches these filters.")
    ui.sync_url(keys)
    st.stop()

queries = study.queries["xquad-xr"]
ids = shown.id.tolist()
position = derived.question_positions(arts)
k_q = ui.bound("question", ids[0], lambda v: v in ids)
question_id = st.selectbox("Question", ids, key=k_q,
                           format_func=lambda i: f"{queries[position[i]]['lang']} · {queries[position[i]]['text'][:90]}")
keys.append(k_q)
ui.sync_url(keys)
qi = position[question_id]
question = queries[qi]
st.markdown("**Question** (shown as plain text)")
st.text(question["text"])
st.text(f"Answers: {' | '.join(question['answers'])}")
st.caption(f"{metric}: baseline {changes.baseline[qi]:.0f}, xQG {changes.xQG[qi]:.0f} (1 = hit)")

index = ui.live_index(arts, plm)
passages = study.corpora["xquad-xr"]
texts = derived.passage_texts(arts)
k_tokens, top = WINDOWS[metric], int(arts.manifest["config"]["top_k"])
scores = {a: question_scores(index.Q, index.P, index.S, qi, a, n) for a in (0.0, alpha)}
windows = [answer_window(ranking(scores[a], top), texts, question["answers"], k_tokens, derived.token_cache())
           for a in (0.0, alpha)]
change = window_change(*windows, scores[0.0], scores[alpha])
st.subheader(f"The {k_tokens:,}-token window: which passage carried an answer")
st.text(why_window(*windows, change, lambda d: f"{index.docids[d]} ({passages[d].title})"))
if [w.hit for w in windows] != [None if np.isnan(v) else bool(v) for v in (changes.baseline[qi], changes.xQG[qi])]:
    st.warning("The window recomputed here disagrees with the stored outcome (an ordering of tied scores).")
if not change.empty:
    change.insert(1, "docid", [index.docids[d] for d in change.passage])
    change.insert(2, "title", [passages[d].title for d in change.passage])
    st.dataframe(change.drop(columns=["passage"]), hide_index=True, width="stretch")
    st.caption("Each passage that holds an answer inside either window (R@kt reads the first k tokens of the ranked "
               "passages, joined, and counts an answer anywhere in them). Ranks among all passages; answers marked "
               f"{MARK_OPEN} {MARK_CLOSE} below (plain text).")
    for d, answer in zip(change.passage, change.answer):
        st.text(f"{index.docids[d]} ({passages[d].title}):\n{highlight(texts[d], answer)}")

docid_position = {d: i for i, d in enumerate(index.docids)}
gold = [docid_position[d] for d in question["gold"]]
moved = gold_movement(index, qi, gold, alpha, n)
moved.insert(2, "title", [passages[g].title for g in gold])
st.subheader("Gold passage: rank among all passages")
st.dataframe(moved.drop(columns=["passage"]), hide_index=True, width="stretch",
             column_config={col: st.column_config.NumberColumn(format="%.4f") for col in moved.columns
                            if "score" in col or "<" in col})
st.caption("The augmented score is (1 - alpha) <q, p> + alpha <q, S_n(p)>: the first part shrinks every passage's "
           "score alike, the second is what the passage's generated queries add.")

generated = ui.generated_queries(arts)
for g, (_, row) in zip(gold, moved.iterrows()):
    st.subheader(f"Generated queries of {ui.literal(row['docid'])} ({ui.literal(passages[g].title)}), most similar "
                 "to the question first")
    st.text(passages[g].text)
    table = query_contributions(generated.of("xquad-xr", row["docid"]), n, index.Q[qi],
                                ui.encode_queries_cached(plm), alpha)
    st.dataframe(table, hide_index=True, width="stretch",
                 column_config={col: st.column_config.NumberColumn(format="%.4f") for col in ("<q, e>", "alpha <q, e>")})
    st.caption(f"Sum of alpha <q, e> over these {len(table)} queries: {table['alpha <q, e>'].sum():.4f}; from the "
               f"shipped index: {row['alpha <q, S_n>']:.4f}. Each query is encoded now with {plm}.")

with st.expander("Export this view"):
    if not change.empty:
        exports.download_table(change.drop(columns=["passage"]).set_index("docid"), f"answer-window-{question_id}",
                               f"Answer-carrying passages in the {metric} window, {question_id}")
    exports.download_table(moved.set_index("docid"), f"why-moved-{question_id}", f"Gold passage ranks, {question_id}")
    exports.download_table(shown.set_index("id"), f"questions-{direction}-{plm}-a{alpha:g}-n{n}",
                      f"Questions whose R@2kt {direction}, {plm}, alpha={alpha:g}, n={n}")
