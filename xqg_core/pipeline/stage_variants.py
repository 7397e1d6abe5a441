"""Stage ``variants-{plm}-{corpus}``: the query sums of the ``copy-only`` and ``no-copy`` controls.

Reads the corpus, its ``generated.jsonl`` (every generate shard) and the PLM; writes
``S_copy.npy`` and ``S_nocopy.npy`` ([n_max, passages, dim], like ``index``'s ``S.npy``), each
generated query reduced to the words it copies from its passage (``copy-only``) or with those
words removed (``no-copy``, :func:`xqg_core.study.copying.split_copied`). A query left with no
word is encoded as the empty text, like any other reduction, so that every passage still sums
7n query embeddings as xQG's does: with a zero vector instead, a passage's score would rise with
its count of non-empty reductions (mE5's query embeddings share a direction, cosine ~0.76 to any
question), a mass effect that swamps the words (MRR@10 11.2 against 44.0 at alpha 0.01,
me5-small). ``copying.json``: per language, the share of
queries with a copied word and the mean share of copied words, and the self-retrieval@10 of a
seeded sample of generated queries under each reading (``xqg``, ``copy-only``, ``no-copy``):
the query's own passage among its 10 nearest passages.

Texts are encoded once each (many copy-only reductions repeat), resumably in chunks; a reduction equal
to a generated query (a query with no copied word is its own ``no-copy``) takes the encode stage's row.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from xqg_core.checksums import file_sha1
from xqg_core.io import save_npy_atomic, write_text_atomic
from xqg_core.paths import slug
from xqg_core.pipeline.identity import encoder_identity
from xqg_core.pipeline.stage_encode import encode_unique, flatten_generated, generated_embeddings
from xqg_core.study.copying import WORD
from xqg_core.study.inputs import read_corpus, read_jsonl

if TYPE_CHECKING:
    from xqg_core.pipeline.context import Pipeline

COPY_VARIANTS = ("copy-only", "no-copy")
# in the fingerprint: a study built by another reading is rebuilt
READING = "v2: a query reduced to nothing is the encoder's empty text"
SELF_RETRIEVAL_SAMPLE = 2000  # generated queries per language (their first query, passages drawn by seed)


def copy_split_texts(records: list[dict], passages, langs, n_max: int) -> tuple[list[str], list[str]]:
    """``(copy_only, no_copy)`` texts of every generated query, in :func:`flatten_generated` order."""
    from xqg_core.study.copying import passage_words, split_copied

    words = [passage_words(p.title, p.text) for p in passages]
    texts, passage_index, _, _ = flatten_generated(records, langs, n_max)
    pairs = [split_copied(q, words[p]) for q, p in zip(texts, passage_index)]
    return [c for c, _ in pairs], [r for _, r in pairs]


def self_retrieval_at_10(E: np.ndarray, passage_index: np.ndarray, P: np.ndarray, rows: np.ndarray,
                         empty: np.ndarray | None = None) -> float:
    """Share of the generated queries ``rows`` whose own passage is among the 10 passages with the
    highest ``<e, p>``; a query reduced to nothing (``empty``) counts as a miss."""
    if len(rows) == 0:
        return float("nan")
    scores = E[rows] @ P.T
    own = scores[np.arange(len(rows)), passage_index[rows]]
    higher = (scores > own[:, None]).sum(axis=1)
    kept = np.ones(len(rows), dtype=bool) if empty is None else ~empty[rows]
    return float(np.mean((higher < 10) & kept))


def run(pipe: Pipeline, plm: str, corpus: str):
    from xqg_core.retrieval.augment import sum_query_embeddings

    cfg = pipe.cfg
    generate = [f"generate-{corpus}{pipe.shard_suffix(s)}" for s in range(cfg.num_shards)]
    inputs = {"corpus": file_sha1(pipe.corpus_path(corpus)), "generated": [pipe.stage_fp(g) for g in generate],
              "index": pipe.stage_fp(f"index-{slug(plm)}-{corpus}"), "encoder": encoder_identity(plm),
              "langs": cfg.generation_langs, "n_max": cfg.n_max, "seed": cfg.seed, "sample": SELF_RETRIEVAL_SAMPLE,
              "reading": READING}

    def fn(out: Path, scratch: Path) -> None:
        passages = read_corpus(pipe.corpus_path(corpus))
        records = [r for g in generate for r in read_jsonl(pipe.out(g) / "generated.jsonl")]
        texts, passage_index, lang_index, rank_index = flatten_generated(records, cfg.generation_langs, cfg.n_max)
        copy_only, no_copy = copy_split_texts(records, passages, cfg.generation_langs, cfg.n_max)
        encoder = pipe.encoder(plm)
        index = pipe.out(f"index-{slug(plm)}-{corpus}")
        P = np.load(index / "P.npy")
        E = generated_embeddings(pipe, plm, corpus)[0]  # the encode stage's, in ``texts`` order
        reduced = encode_unique(encoder.encode_queries, copy_only + no_copy, scratch, "reduced", cfg.encode_chunk,
                                known=(texts, E))
        readings = {"copy-only": reduced[: len(texts)], "no-copy": reduced[len(texts) :]}
        for variant, name in (("copy-only", "S_copy.npy"), ("no-copy", "S_nocopy.npy")):
            S = np.stack([sum_query_embeddings(readings[variant], passage_index, rank_index, len(passages), n)
                          for n in range(1, cfg.n_max + 1)]).astype(np.float32)
            save_npy_atomic(out / name, S)
        readings["xqg"] = E
        empties = {"copy-only": np.array([not t for t in copy_only]), "no-copy": np.array([not t for t in no_copy])}
        rng = np.random.default_rng(cfg.seed)
        report = {}
        for li, lang in enumerate(cfg.generation_langs):
            first = np.flatnonzero((lang_index == li) & (rank_index == 0))
            rows = np.sort(rng.choice(first, size=min(SELF_RETRIEVAL_SAMPLE, len(first)), replace=False))
            mine = np.flatnonzero(lang_index == li)
            copied_words = [len(WORD.findall(copy_only[j])) / max(1, len(WORD.findall(texts[j]))) for j in mine]
            report[lang] = {"queries": int(len(mine)),
                            "with_copied_word": float(np.mean([bool(copy_only[j]) for j in mine])) if len(mine) else 0.0,
                            "copied_word_share": float(np.mean(copied_words)) if copied_words else 0.0,
                            "self_retrieval_at_10": {v: self_retrieval_at_10(E, passage_index, P, rows, empties.get(v))
                                                     for v, E in readings.items()},
                            "sample": int(len(rows))}
        write_text_atomic(out / "copying.json", json.dumps(report, indent=1))

    return pipe.run_stage(f"variants-{slug(plm)}-{corpus}", inputs, fn)
