"""Stages ``encode-{plm}-{corpus}[.i-N]``, ``index-{plm}-{corpus}`` and ``queries-{plm}-{benchmark}``.

``encode`` reads the corpus shard and its ``generated.jsonl``; writes ``P.npy`` (passage side),
``E.npy`` (query side of every generated query) and their ``passage_index``, ``lang_index``,
``rank_index``. Encoding resumes chunk by chunk from the stage's scratch directory.

``index`` reads every encode shard of a corpus; writes ``P.npy``, ``S.npy`` (S_n for
n = 1..n_max, every generation language) and ``S_lang.npy`` (S_{n_max} per generation
language, for the ablation; never shipped).

``queries`` reads a benchmark's ``queries.jsonl`` (and PAWS-X ``pairs.jsonl``); writes ``Q.npy``
(query side) and ``pair_s1.npy`` / ``pair_s2.npy``.
"""
from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np

from xqg_core.checksums import file_sha1
from xqg_core.errors import XqgError
from xqg_core.io import save_npy_atomic
from xqg_core.paths import slug
from xqg_core.pipeline.identity import encoder_identity
from xqg_core.study.inputs import read_corpus, read_jsonl, shard_bounds

if TYPE_CHECKING:
    from xqg_core.pipeline.context import Pipeline

log = logging.getLogger("xqg_core.pipeline")


def encode_resumable(encode, texts: Sequence[str], scratch: Path, tag: str, chunk: int) -> np.ndarray:
    """``encode(texts)`` in chunks saved under ``scratch``: a killed run re-encodes one chunk at most.
    A chunk's file is named by its size and the checksum of its texts too, so a run resumed with
    another ``encode_chunk`` (or other texts) never reads a chunk cut for the earlier one."""
    parts = []
    for k, start in enumerate(range(0, len(texts), chunk)):
        digest = hashlib.sha1("\x00".join(texts[start : start + chunk]).encode("utf-8")).hexdigest()[:12]
        path = scratch / f"{tag}-{chunk}-{k:05d}-{digest}.npy"
        if path.is_file():
            parts.append(np.load(path))
            continue
        vectors = np.asarray(encode(list(texts[start : start + chunk])), dtype=np.float32)
        save_npy_atomic(path, vectors)
        parts.append(vectors)
        log.info("%s: %d / %d encoded", tag, min(start + chunk, len(texts)), len(texts))
    if not parts:
        return np.zeros((0, 0), dtype=np.float32)
    return np.concatenate(parts)


def encode_unique(encode, texts: list[str], scratch: Path, tag: str, chunk: int,
                  known: tuple[Sequence[str], np.ndarray] | None = None) -> np.ndarray:
    """Rows for ``texts`` in order, each distinct text (the empty text included) encoded once, in
    sorted order (the precompute and ``reindex`` batch a study's texts alike). A text of ``known =
    (texts, vectors)`` takes its row from there and is not encoded again (a query with no copied
    word is its own ``no-copy`` reduction: the encode stage holds it)."""
    known_texts, known_vectors = known if known is not None else ((), None)
    seen = {t: i for i, t in enumerate(known_texts)}  # a repeated text: any of its rows
    missing = sorted(set(texts) - seen.keys())
    vectors = encode_resumable(encode, missing, scratch, tag, chunk)
    if known_vectors is None:
        rows = vectors
    else:
        rows = np.concatenate([vectors.reshape(len(missing), known_vectors.shape[1]), known_vectors])
    position = {t: i for i, t in enumerate(missing)}
    return rows[[position[t] if t in position else len(missing) + seen[t] for t in texts]]


def flatten_generated(records: Sequence[dict], langs: Sequence[str], n_max: int):
    """Generated queries in passage / language / rank order, with their index arrays."""
    texts, passage_index, lang_index, rank_index = [], [], [], []
    for p, rec in enumerate(records):
        for li, lang in enumerate(langs):
            for i, q in enumerate(rec["generated_queries"].get(lang, [])[:n_max]):
                texts.append(q)
                passage_index.append(p)
                lang_index.append(li)
                rank_index.append(i)
    return texts, np.array(passage_index, np.int64), np.array(lang_index, np.int16), np.array(rank_index, np.int16)


def run_encode(pipe: Pipeline, plm: str, corpus: str, shard: int):
    cfg = pipe.cfg
    suffix = pipe.shard_suffix(shard)
    corpus_file = pipe.corpus_path(corpus)
    generated_file = pipe.out(f"generate-{corpus}{suffix}") / "generated.jsonl"
    inputs = {"corpus": file_sha1(corpus_file), "shard": [shard, cfg.num_shards],
              "generated": pipe.stage_fp(f"generate-{corpus}{suffix}"), "encoder": encoder_identity(plm),
              "langs": cfg.generation_langs, "n_max": cfg.n_max}

    def fn(out: Path, scratch: Path) -> None:
        encoder = pipe.encoder(plm)
        passages = read_corpus(corpus_file)
        passages = passages[slice(*shard_bounds(len(passages), shard, cfg.num_shards))]
        records = read_jsonl(generated_file)
        if [r["docid"] for r in records] != [p.docid for p in passages]:
            raise XqgError(f"{generated_file}: generated queries do not follow the corpus order; rerun with --force")
        texts, passage_index, lang_index, rank_index = flatten_generated(records, cfg.generation_langs, cfg.n_max)
        P = encode_resumable(lambda t: encoder.encode_passages(t), [p.contents for p in passages], scratch,
                             "passages", cfg.encode_chunk)
        E = encode_resumable(lambda t: encoder.encode_queries(t), texts, scratch, "generated", cfg.encode_chunk)
        save_npy_atomic(out / "P.npy", P)
        save_npy_atomic(out / "E.npy", E.reshape(len(texts), P.shape[1]) if len(texts) else E)
        save_npy_atomic(out / "passage_index.npy", passage_index)
        save_npy_atomic(out / "lang_index.npy", lang_index)
        save_npy_atomic(out / "rank_index.npy", rank_index)

    return pipe.run_stage(f"encode-{slug(plm)}-{corpus}{suffix}", inputs, fn)

def generated_embeddings(pipe: Pipeline, plm: str, corpus: str):
    """E, passage_index (over the whole corpus), lang_index, rank_index of every encode shard."""
    parts, offset = [], 0
    for s in range(pipe.cfg.num_shards):
        d = pipe.out(f"encode-{slug(plm)}-{corpus}{pipe.shard_suffix(s)}")
        pi = np.load(d / "passage_index.npy") + offset
        parts.append((np.load(d / "E.npy"), pi, np.load(d / "lang_index.npy"), np.load(d / "rank_index.npy")))
        offset += len(np.load(d / "P.npy", mmap_mode="r"))
    return tuple(np.concatenate([p[k] for p in parts]) for k in range(4))

def run_index(pipe: Pipeline, plm: str, corpus: str):
    """P and S_n (n = 1..n_max, every generation language) of the whole corpus."""
    from xqg_core.retrieval.augment import sum_query_embeddings

    cfg = pipe.cfg
    names = [f"encode-{slug(plm)}-{corpus}{pipe.shard_suffix(s)}" for s in range(cfg.num_shards)]
    inputs = {"shards": [pipe.stage_fp(n) for n in names], "n_max": cfg.n_max,
              "per_language": list(cfg.generation_langs)}

    def fn(out: Path, _: Path) -> None:
        # shard by shard into memory-mapped outputs: one encode shard in memory at a time
        from numpy.lib.format import open_memmap

        sizes = [len(np.load(pipe.out(name) / "P.npy", mmap_mode="r")) for name in names]
        dim = np.load(pipe.out(names[0]) / "P.npy", mmap_mode="r").shape[1]
        langs = len(cfg.generation_langs)
        P_out = open_memmap(out / "P.npy", mode="w+", dtype=np.float32, shape=(sum(sizes), dim))
        S_out = open_memmap(out / "S.npy", mode="w+", dtype=np.float32, shape=(cfg.n_max, sum(sizes), dim))
        # S_{n_max} per generation language, for the ablation (work dir only: never shipped)
        L_out = open_memmap(out / "S_lang.npy", mode="w+", dtype=np.float32, shape=(langs, sum(sizes), dim))
        offset = 0
        for name, size in zip(names, sizes):
            part = pipe.out(name)
            P_out[offset : offset + size] = np.load(part / "P.npy")
            E, pi, li, ri = (np.load(part / f) for f in ("E.npy", "passage_index.npy", "lang_index.npy",
                                                         "rank_index.npy"))
            rows = slice(offset, offset + size)
            for n in range(1, cfg.n_max + 1):
                S_out[n - 1, rows] = sum_query_embeddings(E, pi, ri, size, n) if len(E) else 0.0
            for k in range(langs):
                L_out[k, rows] = sum_query_embeddings(E, pi, ri, size, cfg.n_max, keep=li == k) if len(E) else 0.0
            offset += size
        for array in (P_out, S_out, L_out):
            array.flush()
        del P_out, S_out, L_out

    return pipe.run_stage(f"index-{slug(plm)}-{corpus}", inputs, fn)

def run_queries(pipe: Pipeline, plm: str, benchmark: str):
    """The benchmark's queries on the query side; PAWS-X pair sentences too."""
    cfg = pipe.cfg
    qfile = pipe.out("corpora") / benchmark / "queries.jsonl"
    pfile = pipe.out("corpora") / benchmark / "pairs.jsonl"
    inputs = {"queries": file_sha1(qfile), "pairs": file_sha1(pfile) if pfile.is_file() else None,
              "encoder": encoder_identity(plm)}

    def fn(out: Path, scratch: Path) -> None:
        encoder = pipe.encoder(plm)
        texts = [r["text"] for r in read_jsonl(qfile)]
        pairs = read_jsonl(pfile) if pfile.is_file() else []
        # each distinct text once: PAWS-X's queries are pair sentences too
        V = encode_unique(encoder.encode_queries, [*texts, *(s for r in pairs for s in (r["s1"], r["s2"]))],
                          scratch, "texts", cfg.encode_chunk)
        save_npy_atomic(out / "Q.npy", V[: len(texts)])
        if pairs:
            save_npy_atomic(out / "pair_s1.npy", V[len(texts) :: 2])
            save_npy_atomic(out / "pair_s2.npy", V[len(texts) + 1 :: 2])

    return pipe.run_stage(f"queries-{slug(plm)}-{benchmark}", inputs, fn)
