"""2-D UMAP projections for the embedding-shift view: passages before and after augmentation.

One UMAP (cosine metric) is fitted per PLM on every point shown together - the passages
P, their augmented positions P'(alpha, n) for each alpha, and some of their generated
queries - so the before/after positions share one map and the shift of each passage
can be drawn as an arrow.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from xqg_core.retrieval.augment import augment_passages


def umap_points(plm: str, P: np.ndarray, S: np.ndarray, E: np.ndarray, passage_index: np.ndarray,
                lang_index: np.ndarray, rank_index: np.ndarray, langs: Sequence[str], settings) -> pd.DataFrame:
    """Rows ``plm, kind, alpha, passage, lang, i, x, y``; kind is passage / augmented / query.

    ``settings``: passages (the first k passages), alphas, n, queries_per_passage,
    query_passages (queries are drawn for the first k passages only), neighbors, seed.
    """
    import umap

    k = min(settings.passages, len(P))
    blocks, meta = [P[:k]], [("passage", 0.0, np.arange(k), "", -1)]
    for alpha in settings.alphas:
        blocks.append(augment_passages(P[:k], S[settings.n - 1][:k], alpha))
        meta.append(("augmented", float(alpha), np.arange(k), "", -1))
    if settings.queries_per_passage > 0 and len(E):
        chosen = (passage_index < min(settings.query_passages, k)) & (rank_index < settings.queries_per_passage)
        blocks.append(E[chosen])
        for pi, li, ri in zip(passage_index[chosen], lang_index[chosen], rank_index[chosen]):
            meta.append(("query", 0.0, np.array([pi]), langs[li], int(ri)))
    X = np.concatenate(blocks).astype(np.float32)
    reducer = umap.UMAP(n_neighbors=settings.neighbors, metric="cosine", random_state=settings.seed, n_components=2,
                        n_jobs=1)  # a seed makes UMAP single-threaded anyway
    coords = reducer.fit_transform(X)
    rows = []
    for kind, alpha, passages, lang, rank in meta:
        for p in passages:
            rows.append((plm, kind, alpha, int(p), lang, rank))
    frame = pd.DataFrame(rows, columns=["plm", "kind", "alpha", "passage", "lang", "i"])
    frame["x"], frame["y"] = coords[:, 0].astype(np.float32), coords[:, 1].astype(np.float32)
    return frame
