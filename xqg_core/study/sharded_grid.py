"""The exact grid over a corpus cut into shards: the paper's 18M passages on many workers.

Scores are linear in alpha, ``s = (1 - alpha) <q, p> + alpha <q, S_n(p)>``, so a shard
task computes ``Q P_shard^T`` and ``Q S_n,shard^T`` once and keeps, for every (alpha, n)
cell, the exact top-k of its passages with their scores (:func:`rank_shard`). The merge
takes the global top-k per cell from the shards' lists (:func:`xqg_core.retrieval.topk.merge_top_k`):
the order is total (score, then passage index) and every score is the same number in a
shard as in the whole corpus (:func:`xqg_core.retrieval.topk.passage_scores`), so the merged top-k
equals the single-machine grid's, ties included. A task reads only its own rows of the
index (memory-mapped ``P.npy`` / ``S.npy`` / ``S_lang.npy``), in sub-blocks, so it never
holds more than one shard of embeddings; its top-k lists go to a file in the stage's
scratch directory, so a finished shard is never ranked again.

The R@kt evaluation then needs only the texts of passages that reach some cell's token
window: :class:`LazyTexts` reads a passage's line of ``corpus.jsonl`` when first asked.
"""
from __future__ import annotations

import json
import logging
import resource
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from xqg_core.errors import DataFormatError
from xqg_core.io import atomic_path, save_npy_atomic, write_json_atomic
from xqg_core.retrieval.topk import (
    POOL,
    SCORE_TILE,
    MixedCandidates,
    merge_top_k,
    mixed_top_k,
    passage_scores,
    top_k_exact,
)

log = logging.getLogger("xqg_core.study.sharded_grid")

BLOCK_PASSAGES = 65536  # passages scored at once inside a task (bounds its memory: queries x block floats)


def shard_ranges(num_passages: int, shard_passages: int, tile: int = SCORE_TILE) -> list[tuple[int, int]]:
    """[start, end) of each grid shard: ``shard_passages`` rounded up to whole score tiles."""
    size = max(tile, -(-shard_passages // tile) * tile)
    return [(s, min(s + size, num_passages)) for s in range(0, num_passages, size)]


def rank_shard(Q: np.ndarray, P: np.ndarray, S: np.ndarray, offset: int, alphas: Sequence[float], k: int,
               tile: int = SCORE_TILE, block: int = BLOCK_PASSAGES, pool: int = POOL) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-k of passages ``offset .. offset + len(P)`` for every (alpha, n) cell.

    ``P`` [rows, d], ``S`` [n, rows, d] (array-likes; memory maps are read block by block).
    Returns global passage indices (int64) and scores (float32), each [alphas, n, queries, k'].

    Pruned, exactly: per query, the candidates are its ``pool`` best passages by ``<q, p>``
    and its ``pool`` best by ``<q, S_n(p)>``. A passage outside both scores at most
    ``(1 - alpha) QP_pool + alpha QS_pool`` (the pool's last values; float32 rounding is
    monotone, so the bound holds for the computed scores too). Where the candidates' k-th
    best beats that bound strictly, their top-k is the top-k; a query where it does not is
    ranked over the whole block."""
    n_count = len(S)
    block = max(tile, block // tile * tile)
    best_ids = best_vals = None
    for start in range(0, len(P), block):
        end = min(start + block, len(P))
        QP = passage_scores(Q, P[start:end], offset + start, tile)
        base = top_k_exact(QP, k, offset + start)
        pruned = end - start > 2 * pool and pool >= k
        top_qp = top_k_exact(QP, pool) if pruned else None
        ids = np.zeros((len(alphas), n_count, len(Q), base[0].shape[1]), dtype=np.int64)
        vals = np.zeros(ids.shape, dtype=np.float32)
        for n in range(n_count):
            QS = passage_scores(Q, S[n, start:end], offset + start, tile)
            candidates = MixedCandidates.build(QP, QS, pool, top_qp) if pruned else None
            for a, alpha in enumerate(alphas):
                if alpha == 0:  # P' = P whatever n
                    ids[a, n], vals[a, n] = base
                else:
                    ids[a, n], vals[a, n] = mixed_top_k(QP, QS, alpha, k, offset + start, candidates)
            del QS, candidates
        if best_ids is None:
            best_ids, best_vals = ids, vals
        else:
            best_ids, best_vals = merge_top_k([best_ids, ids], [best_vals, vals], k)
    if best_ids is None:
        empty = (len(alphas), n_count, len(Q), 0)
        return np.zeros(empty, dtype=np.int64), np.zeros(empty, dtype=np.float32)
    return best_ids, best_vals


# ----------------------------------------------------------------------------- the index rows of a variant
def variant_rows(index_dir: Path, variant: str, start: int, end: int, generation_langs: Sequence[str],
                 permutation: Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """P and the variant's S rows of passages [start, end), read from the index stage's files
    (``xqg``: memory-mapped, read when ranked; the controls: read now).

    ``xqg``: S_n for every n; ``shuffled``: S_n of the passages ``perm[start:end]`` (the
    derangement saved at ``permutation``); ``only-L`` / ``without-L``: S_{n_max} of language L,
    or all but L (one n), as :func:`xqg_core.study.controls.variant_sums` computes them."""
    P = np.load(index_dir / "P.npy", mmap_mode="r")[start:end]
    S = np.load(index_dir / "S.npy", mmap_mode="r")
    if variant == "xqg":  # memory maps: :func:`rank_shard` reads them block by block
        return P, S[:, start:end]
    if variant == "shuffled":
        perm = np.load(permutation, mmap_mode="r")[start:end]
        return P, np.asarray(S[:, np.asarray(perm)])
    kind, _, lang = variant.partition("-")
    S_lang = np.load(index_dir / "S_lang.npy", mmap_mode="r")[list(generation_langs).index(lang), start:end]
    if kind == "only":
        return np.asarray(P), np.asarray(S_lang)[None]
    return np.asarray(P), (np.asarray(S[-1, start:end]) - np.asarray(S_lang))[None]


@dataclass(frozen=True)
class ShardJob:
    """One grid shard of one variant (the arguments of a Ray task: paths and numbers only)."""

    queries: str  # Q.npy
    index_dir: str
    variant: str
    start: int
    end: int
    alphas: tuple[float, ...]
    k: int
    generation_langs: tuple[str, ...]
    output: str  # the shard's top-k lists (npz written atomically)
    permutation: str | None = None
    tile: int = SCORE_TILE


def run_shard_job(job: ShardJob) -> dict:
    """Rank one shard unless its output exists; returns its seconds and peak memory."""
    out = Path(job.output)
    if out.is_file():
        return {"shard": [job.start, job.end], "seconds": 0.0, "skipped": True, "peak_rss_mb": None}
    started = time.perf_counter()
    Q = np.load(job.queries)
    P, S = variant_rows(Path(job.index_dir), job.variant, job.start, job.end, job.generation_langs,
                        Path(job.permutation) if job.permutation else None)
    ids, vals = rank_shard(Q, P, S, job.start, job.alphas, job.k, job.tile)
    save_top_k(out, ids, vals)
    return {"shard": [job.start, job.end], "seconds": time.perf_counter() - started, "skipped": False,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def save_top_k(path: Path, ids: np.ndarray, vals: np.ndarray) -> None:
    """A shard's (or a merge's) top-k lists, written atomically as npz (no pickle)."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, ids=ids.astype(np.int64), vals=vals)


def merge_shard_files(paths: Sequence[Path], k: int) -> tuple[np.ndarray, np.ndarray]:
    """The global top-k per cell from the shards' files, read one at a time."""
    ids = vals = None
    for path in paths:
        with np.load(path, allow_pickle=False) as part:
            if ids is None:
                ids, vals = part["ids"], part["vals"]
            else:
                ids, vals = merge_top_k([ids, part["ids"]], [vals, part["vals"]], k)
    return ids, vals


def run_merge_job(inputs: Sequence[str], output: str, k: int) -> dict:
    """Merge two shards' (or two merges') top-k lists into one file unless it exists."""
    out = Path(output)
    if out.is_file():
        return {"merge": list(inputs), "seconds": 0.0, "skipped": True}
    started = time.perf_counter()
    save_top_k(out, *merge_shard_files([Path(p) for p in inputs], k))
    return {"merge": list(inputs), "seconds": time.perf_counter() - started, "skipped": False}


def tree_merge(executor, files: Sequence[Path], k: int, where: Path, name: str) -> tuple[Path, list[dict]]:
    """Merge shard files pairwise, round by round, each merge an executor job (a file left
    without a partner goes on to the next round): log2(shards) rounds instead of one process
    reading every shard. Returns the final file and each merge job's report."""
    from xqg_core.study.executors import Job

    files, reports, level = [Path(f) for f in files], [], 0
    while len(files) > 1:
        jobs, following = [], []
        for j in range(0, len(files), 2):
            if j + 1 == len(files):
                following.append(files[j])
                continue
            out = where / f"merge-{level:02d}-{j // 2:05d}.npz"
            jobs.append(Job(f"{name}-merge-{level}-{j // 2}", run_merge_job, ([str(files[j]), str(files[j + 1])], str(out), k)))
            following.append(out)
        reports += executor.run(jobs)
        files, level = following, level + 1
    return files[0], reports


def sharded_ranking(executor, queries: Path, index_dir: Path, variant: str, alphas: Sequence[float], k: int,
                    shard_passages: int, scratch: Path, generation_langs: Sequence[str], seed: int,
                    tile: int = SCORE_TILE) -> tuple[np.ndarray, list[dict]]:
    """Ranked passage indices [alphas, n, queries, k] of one variant, ranked shard by shard
    on ``executor`` and merged pairwise there too (:func:`tree_merge`); plus each job's report
    (shard tasks: ``shard``, seconds, peak memory; merges: ``merge``, seconds)."""
    from xqg_core.study.controls import derangement
    from xqg_core.study.executors import Job

    num_passages = len(np.load(index_dir / "P.npy", mmap_mode="r"))
    permutation = None
    if variant == "shuffled":
        permutation = scratch / "shuffled-permutation.npy"
        if not permutation.is_file():
            save_npy_atomic(permutation, derangement(num_passages, seed))
    jobs = []
    for i, (start, end) in enumerate(shard_ranges(num_passages, shard_passages, tile)):
        spec = ShardJob(str(queries), str(index_dir), variant, start, end, tuple(float(a) for a in alphas), k,
                        tuple(generation_langs), str(scratch / variant / f"shard-{i:05d}.npz"),
                        str(permutation) if permutation else None, tile)
        jobs.append(Job(f"grid-{variant}-{i}", run_shard_job, (spec,)))
    (scratch / variant).mkdir(parents=True, exist_ok=True)
    reports = executor.run(jobs)
    started = time.perf_counter()
    final, merges = tree_merge(executor, [Path(j.args[0].output) for j in jobs], k, scratch / variant, f"grid-{variant}")
    with np.load(final, allow_pickle=False) as merged:
        ids = merged["ids"]
    log.info("grid %s: %d shards ranked, merged in %.2f s", variant, len(jobs), time.perf_counter() - started)
    return ids, reports + merges


# ----------------------------------------------------------------------------- texts by docid, read lazily
class LazyTexts:
    """Passage texts of a ``corpus.jsonl`` (one ``{"docid", "title", "text"}`` per line) by
    position, read from disk when first asked: only the line offsets (8 bytes a passage) are
    kept, so the 18M-passage corpus never sits in memory. Offsets are built by one pass the
    first time and saved beside the corpus (keyed to its size and modification time)."""

    def __init__(self, corpus: Path):
        self.path = Path(corpus)
        stat = self.path.stat()
        index = self.path.with_name(f".{self.path.name}.offsets.npy")
        meta = index.with_suffix(".json")
        key = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
        if index.is_file() and meta.is_file() and json.loads(meta.read_text(encoding="utf-8")) == key:
            self.offsets = np.load(index)
        else:
            offsets, position = [], 0
            with open(self.path, "rb") as fh:
                for line in fh:
                    if line.strip():
                        offsets.append(position)
                    position += len(line)
            self.offsets = np.asarray(offsets, dtype=np.int64)
            save_npy_atomic(index, self.offsets)
            write_json_atomic(meta, key, indent=None)
        self._fh = None

    def __len__(self) -> int:
        return len(self.offsets)

    def record(self, i: int) -> dict:
        if self._fh is None:
            self._fh = open(self.path, "rb")
        self._fh.seek(int(self.offsets[i]))
        line = self._fh.readline()
        try:
            return json.loads(line)
        except ValueError as exc:
            raise DataFormatError(self.path, i + 1, None, f"not a JSON record ({exc})") from None

    def __getitem__(self, i: int) -> str:
        return self.record(i)["text"]

    def __getstate__(self):  # an open file does not travel to another process
        return {**self.__dict__, "_fh": None}
