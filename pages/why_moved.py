"""Why did it move? One xquad-xr question: its gold passage's rank at the baseline and with
xQG, and the gold passage's generated queries by similarity to the question."""
from __future__ import annotations

import streamlit as st

from pages import exports, ui
from xqg_core.explore.recompute import gold_movement, query_contributions

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

changes = ui.question_changes(arts, plm, alpha, n, "R@2kt")
c1, c2 = st.columns(2)
direction = ui.select("Questions whose R@2kt", "why_change", ["gained", "lost", "same", "all"], container=c1,
                      format_func=lambda v: {"gained": "xQG gained (miss -> hit)", "lost": "xQG lost (hit -> miss)",
                                             "same": "did not change", "all": "any"}[v])
langs = ["all", *dict.fromkeys(changes.lang)]
lang = ui.select("Question language", "why_lang", langs, container=c2)
keys += ["why_change", "why_lang"]
shown = changes[((changes.change == direction) | (direction == "all")) & ((changes.lang == lang) | (lang == "all"))]
counts = changes.change.value_counts()
st.caption(f"{plm}, alpha = {alpha:g}, n = {n}: R@2kt gained on {counts.get('gained', 0)} questions and lost on "
           f"{counts.get('lost', 0)} of {len(changes):,} (stored per-question outcomes, official rule).")
if shown.empty:
    st.info("No question matches these filters.")
    ui.sync_url(keys)
    st.stop()

queries = study.queries["xquad-xr"]
ids = shown.id.tolist()
position = {q_id: i for i, q_id in enumerate(changes.id)}
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
st.caption(f"R@2kt: baseline {changes.baseline[qi]:.0f}, xQG {changes.xQG[qi]:.0f} (1 = hit)")

index = ui.live_index(arts, plm)
passages = study.corpora["xquad-xr"]
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
    exports.download_table(moved.set_index("docid"), f"why-moved-{question_id}", f"Gold passage ranks, {question_id}")
    exports.download_table(shown.set_index("id"), f"questions-{direction}-{plm}-a{alpha:g}-n{n}",
                      f"Questions whose R@2kt {direction}, {plm}, alpha={alpha:g}, n={n}")
