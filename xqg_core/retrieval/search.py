"""Exact inner-product search (faiss ``IndexFlatIP``) and run exports.

Exports:
- TREC run: ``qid Q0 docid rank score tag`` per line (rank from 1).
- Official XOR-Retrieve predictions: ``[{"id", "lang", "ctxs": [passage texts in rank order]}]``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from xqg_core.io import atomic_path, write_json_atomic


def build_flat_ip_index(passages: np.ndarray):
    """An exact inner-product index over float32 rows."""
    import faiss

    p = np.ascontiguousarray(passages, dtype=np.float32)
    index = faiss.IndexFlatIP(p.shape[1])
    index.add(p)
    return index


def search(passages_or_index, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-``k`` passages per query by inner product: (scores [Q, k] float32, ids [Q, k] int64).

    Ties are broken by faiss (lower id first). ``k`` is capped at the corpus size.
    """
    index = passages_or_index if hasattr(passages_or_index, "search") else build_flat_ip_index(passages_or_index)
    k = min(k, index.ntotal)
    scores, ids = index.search(np.ascontiguousarray(queries, dtype=np.float32), k)
    return scores, ids


def write_trec_run(path: str | Path, query_ids: Sequence[str], doc_ids: Sequence[str],
                   scores: np.ndarray, ranked: np.ndarray, tag: str) -> None:
    """A TREC run file; ``ranked[i, r]`` is an index into ``doc_ids``."""
    lines = []
    for qi, qid in enumerate(query_ids):
        for rank, (d, s) in enumerate(zip(ranked[qi], scores[qi]), start=1):
            if d < 0:  # faiss pads with -1 when fewer than k exist
                break
            lines.append(f"{qid} Q0 {doc_ids[d]} {rank} {float(s):.6f} {tag}\n")
    with atomic_path(path) as tmp:
        tmp.write_text("".join(lines), encoding="utf-8")


def xor_predictions(query_ids: Sequence[str], langs: Sequence[str], ranked: np.ndarray,
                    passage_texts: Sequence[str]) -> list[dict]:
    """The official XOR-Retrieve prediction records (ctxs are passage texts, best first)."""
    return [
        {"id": qid, "lang": lang, "ctxs": [passage_texts[d] for d in ranked[qi] if d >= 0]}
        for qi, (qid, lang) in enumerate(zip(query_ids, langs))
    ]


def write_xor_predictions(path: str | Path, query_ids: Sequence[str], langs: Sequence[str],
                          ranked: np.ndarray, passage_texts: Sequence[str]) -> None:
    write_json_atomic(path, xor_predictions(query_ids, langs, ranked, passage_texts), indent=None)
