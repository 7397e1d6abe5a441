"""Robustness to adversarial near-duplicates (PAWS-X): clean vs adversarial Acc@1, their drop
and the win rate over the adversarial (label-0) rows, baseline vs xQG; drop against alpha;
items whose outcome xQG flipped."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from pages import exports, ui
from xqg_core.explore import charts
from xqg_core.explore.recompute import query_contributions
from xqg_core.explore.tables import PAWSX_METRICS, SIGNIFICANCE_LEVEL, alpha_curve, cell_frame, comparison_table

st.title("Robustness (PAWS-X adversarial pairs)")
arts = ui.artifacts()
res = ui.results_of(arts)
if "pawsx-adv" not in set(res.benchmark.unique()):
    st.info("These artifacts hold no pawsx-adv benchmark (see the config's pawsx_adv section).")
    st.stop()
c = ui.cell_controls(arts, ["pawsx-adv"], exact_alpha=False)
plm, alpha, n = c["plm"], c["alpha"], c["n"]
keys = list(c["keys"])
summary = arts.manifest.get("benchmarks", {}).get("pawsx-adv", {})
pool_size = f"{summary['pool_sentences']:,} sentences; " if "pool_sentences" in summary else ""
st.markdown(
    "Query: PAWS-X sentence 1 in de, es, fr, ja, ko or zh; pool: the **distinct** English sentences of the test "
    f"split ({pool_size}PAWS reuses sentences across rows, and a copy of the "
    "gold is the gold, never a distractor). Headline, over the **label-0 rows** (the twin, sentence 2, is an "
    "adversarial word swap with another meaning): **clean Acc@1** - the English sentence 1 ranks first with its "
    "twin removed; **adversarial Acc@1** - with the twin present; **drop** = clean - adversarial (smaller is more "
    "robust); **win rate** - s(q, gold) > s(q, twin). **para_acc1**, over the label-1 rows (the twin is a "
    "paraphrase): either sentence ranks first.")
if summary.get("identical_rows_left_out"):
    st.caption(f"{summary['identical_rows_left_out']} labelled rows whose two English sentences are identical "
               "are left out.")

table = comparison_table(cell_frame(res, "pawsx-adv", plm, 0.0, n), cell_frame(res, "pawsx-adv", plm, alpha, n),
                         PAWSX_METRICS)
st.subheader(f"{plm} · alpha = {alpha:g} · n = {n}")
unsupported = ui.unsupported_caption(arts, "pawsx-adv", [plm])
st.dataframe(ui.comparison_view(table, PAWSX_METRICS, unsupported), width="stretch", column_config=ui.LANG_COLUMN)
with st.expander("Every column: baseline, xQG, Δ and p-value per metric"):
    st.dataframe(ui.full_comparison_view(table, unsupported), width="stretch")
st.caption(f"Percent. ▲/▼: significant at p < {SIGNIFICANCE_LEVEL} ({arts.manifest['significance']['test']}), "
           "per item, vs alpha = 0.")

drop = alpha_curve(res, "pawsx-adv", plm, n, "drop")
fig_drop = charts.line_figure(drop, "alpha", "value", f"Adversarial drop vs alpha ({plm}, n = {n})", color="lang",
                         labels={"value": "drop (Acc@1 points)", "lang": "language"})
fig_drop.add_vline(x=alpha, line_dash="dot")
both = alpha_curve(res, "pawsx-adv", plm, n, "clean_acc1").assign(kind="clean")
both = pd.concat([both, alpha_curve(res, "pawsx-adv", plm, n, "adv_acc1").assign(kind="adversarial")])
fig_acc = charts.line_figure(both[both.lang == "avg"], "alpha", "value",
                        "Clean and adversarial Acc@1 vs alpha (macro, label-0 rows)", color="kind",
                        labels={"value": "macro Acc@1 (%)"})
c1, c2 = st.columns(2)
c1.plotly_chart(fig_drop, config=ui.PLOTLY_CONFIG, key="fig-drop")
c2.plotly_chart(fig_acc, config=ui.PLOTLY_CONFIG, key="fig-acc")

st.subheader("Items whose adversarial outcome xQG flipped")
flips = None
if alpha == 0:
    st.info("At alpha = 0 nothing is augmented; pick alpha > 0.")
else:
    study = ui.study(arts)
    if study is not None:
        flips = ui.pawsx_flips(arts, plm, alpha, n)
        counts = flips.direction.value_counts()
        st.caption(f"{counts.get('fixed by xQG', 0)} items fixed and {counts.get('broken by xQG', 0)} broken by "
                   "augmentation (adversarial Acc@1, twin in the pool). Scores are inner products with the "
                   "baseline and the augmented English sentences.")
        direction = ui.select("Direction", "direction", ["fixed by xQG", "broken by xQG"], container=st)
        langs = ["all", *sorted(set(flips.lang))]
        lang = ui.select("Language", "flip_lang", langs, container=st)
        keys += ["direction", "flip_lang"]
        view = flips[(flips.direction == direction) & ((flips.lang == lang) if lang != "all" else True)]
        # scores first and narrow, the three sentences after them at a fixed width (full text on hover
        # and in the item view below): at 1440 px the twin and every score stay in view
        scores = [c for c in view.columns if c.startswith("s(")]
        shown = view[["lang", "row", *scores, "query", "gold", "twin", "gold docid", "twin docid"]].head(200)
        st.dataframe(shown, hide_index=True, width="stretch",
                     column_config={"lang": st.column_config.TextColumn(width=48),
                                    "row": st.column_config.NumberColumn(width=64),
                                    **{c: st.column_config.NumberColumn(format="%.4f", width=104) for c in scores},
                                    **{c: st.column_config.TextColumn(width=240) for c in ("query", "gold", "twin")}})
        if len(view):
            st.markdown("**Which generated queries moved it?** The gold's and the twin's generated queries, by "
                        "similarity to the query (encoded now), with their share alpha <q, e> of the score.")
            labels = [f"row {r.row} · {r.lang} · {r.query[:80]}" for r in view.itertuples()]
            k_item = ui.bound("flip_item", 0, lambda v: 0 <= v < len(labels), cast=int)
            item = st.selectbox("Item", range(len(labels)), key=k_item, format_func=lambda i: labels[i])
            keys.append(k_item)
            chosen = view.iloc[item]
            q = ui.encode_queries_cached(plm)([chosen["query"]])[0]  # shared by every session
            generated = ui.generated_queries(arts)
            st.text(f"query: {chosen['query']}\ngold:  {chosen['gold']}\ntwin:  {chosen['twin']}")
            g1, g2 = st.columns(2)
            for col, side in ((g1, "gold"), (g2, "twin")):
                contrib = query_contributions(generated.of("pawsx-test", chosen[f"{side} docid"]), n, q,
                                              ui.encode_queries_cached(plm), alpha)
                col.markdown(f"**{side}** (sum of alpha <q, e>: {contrib['alpha <q, e>'].sum():+.4f})")
                col.dataframe(contrib, hide_index=True, width="stretch",  # the scores before the query text
                              column_order=["<q, e>", "alpha <q, e>", "lang", "i", "text"],
                              column_config={c: st.column_config.NumberColumn(format="%.4f", width=96)
                                             for c in ("<q, e>", "alpha <q, e>")})
ui.sync_url(keys)

with st.expander("Export this view"):
    exports.download_table(table, f"pawsx-{plm}-a{alpha:g}-n{n}", f"PAWS-X robustness, {plm}, alpha={alpha:g}, n={n}")
    if flips is not None and len(flips):
        exports.download_table(flips.set_index("row"), f"pawsx-flips-{plm}-a{alpha:g}-n{n}", "Items flipped by xQG")
    exports.figure_downloads({"pawsx-drop-vs-alpha": fig_drop, "pawsx-acc-vs-alpha": fig_acc})
    exports.report_downloads("xQG Explorer - PAWS-X robustness", {"encoder": plm, "alpha": f"{alpha:g}", "n": n},
                        {"Robustness": table}, notes=arts.manifest.get("deviations", []))
