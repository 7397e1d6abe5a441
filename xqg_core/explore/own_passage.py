"""Your passage: generate and encode queries for a passage the user types, and rank it among the corpus.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd

from xqg_core.explore.live import detect_language

MAX_PASSAGE_CHARS = 3000  # a passage longer than this is refused with a message (the study's are ~100 words)

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
    from xqg_core.data.records import Passage

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
