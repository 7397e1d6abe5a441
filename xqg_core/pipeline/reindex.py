"""``python -m xqg_core reindex``: rebuild a shipped study's index from the study itself.

The index (``P``, ``S_n`` and ``Q`` of xquad-xr per PLM) is what the dashboard recomputes
an off-grid alpha, "Why did it move?" and "Your questions" from; the grid's numbers come
from the float32 arrays of the precompute's work directory, which do not ship. This
command re-encodes the study's own inputs - ``texts/passages.parquet``,
``generated_queries.parquet`` and ``texts/queries.parquet`` - with the encoders the
manifest names (their identity, weights' package and settings, must be the same), in the
precompute's order and chunking, so the float32 vectors are the precompute's; then

1. checks them against the study's current index: every component within that storage's
   rounding bound (half a step of an int8 row, or float16's), so the study's
   encodings are reproduced and no other;
2. writes ``index/`` as this code stores it (:func:`xqg_core.study.index_store.write_index`): a
   schema-4 study keeps its int8 file byte for byte and gains the residual levels; and a
   manifest with the new files, the schema version and an ``index`` entry saying when, by
   which code and with what check the index was rebuilt. The study is swapped in whole
   (:func:`xqg_core.study.swap.swap_in`): a kill leaves the old study or the new one.

Encoding is resumable (chunks in ``{cache}/reindex/{study}/``, keyed to the inputs).

    python -m xqg_core reindex [--artifacts DIR] [--work-dir DIR]
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np

from xqg_core.io import save_npy_atomic, write_json_atomic
from xqg_core.paths import cache_dir, slug
from xqg_core.pipeline.runner import StageRunner
from xqg_core.pipeline.stage_export import manifest_files
from xqg_core.study.artifacts import (
    SCHEMA_VERSION,
    ArtifactError,
    Artifacts,
    artifact_config,
    code_version,
    load_artifacts,
    resolve_study,
)
from xqg_core.study.index_store import write_index
from xqg_core.study.swap import STUDY_ENTRIES, swap_in

log = logging.getLogger("xqg_core.pipeline.reindex")

# allowed on top of the rounding bound: another CPU's BLAS may sum the encoder's float32 products
# in another order (the vectors then differ from the study's by float rounding, ~1e-7)
ENCODE_TOLERANCE = 1e-5


def generated_records(arts: Artifacts, corpus: str, docids: list[str]) -> list[dict]:
    """``generated_queries.parquet`` as the precompute's records (``{"generated_queries": {lang: [...]}}``
    in corpus order, each language's queries by rank)."""
    table = arts.table("generated_queries.parquet")
    table = table[table.corpus == corpus].sort_values(["passage_id", "lang", "i"], kind="stable")
    by_passage: dict[str, dict[str, list[str]]] = {d: {} for d in docids}
    for pid, lang, text in zip(table.passage_id, table.lang, table.text):
        if pid not in by_passage:
            raise ArtifactError(f"{arts.path('generated_queries.parquet')}: passage {pid!r} is not in corpus {corpus}")
        by_passage[pid].setdefault(lang, []).append(text)
    return [{"docid": d, "generated_queries": by_passage[d]} for d in docids]


def default_work(arts: Artifacts) -> Path:
    return cache_dir() / "reindex" / artifact_config(arts).name


def encode_index(arts: Artifacts, plm: str, work: Path | None = None) -> Path:
    """float32 ``P.npy``, ``S.npy`` [n_max, passages, d] and ``Q.npy`` of xquad-xr, encoded from the
    study's inputs as the precompute's encode, index and queries stages do; returns their directory."""
    from xqg_core.models.encoders import load_encoder
    from xqg_core.pipeline.identity import encoder_identity
    from xqg_core.pipeline.stage_encode import encode_resumable, encode_unique, flatten_generated
    from xqg_core.retrieval.augment import sum_query_embeddings

    cfg = artifact_config(arts)
    identity = encoder_identity(plm)
    built_with = arts.manifest["models"]["encoders"].get(plm)
    if json.loads(json.dumps(identity)) != built_with:
        raise ArtifactError(f"encoder {plm}: this environment's {identity} is not the study's {built_with}; "
                            "install the study's requirements to rebuild its index")
    files = arts.manifest["files"]
    inputs = {"study": arts.manifest.get("inputs_fingerprint"), "encoder": identity, "langs": list(cfg.generation_langs),
              "n_max": cfg.n_max, "chunk": cfg.encode_chunk,
              "texts": {rel: files.get(rel, {}).get("sha1") for rel in ("texts/passages.parquet",
                                                                         "texts/queries.parquet",
                                                                         "generated_queries.parquet")}}
    runner = StageRunner(work or default_work(arts))

    def fn(out: Path, scratch: Path) -> None:
        study = resolve_study(arts)
        passages = study.corpora["xquad-xr"]
        records = generated_records(arts, "xquad-xr", [p.docid for p in passages])
        texts, passage_index, _, rank_index = flatten_generated(records, cfg.generation_langs, cfg.n_max)
        encoder = load_encoder(plm, device=cfg.device)
        P = encode_resumable(encoder.encode_passages, [p.contents for p in passages], scratch, "passages",
                             cfg.encode_chunk)
        E = encode_resumable(encoder.encode_queries, texts, scratch, "generated", cfg.encode_chunk)
        S = np.stack([sum_query_embeddings(E, passage_index, rank_index, len(passages), n)
                      for n in range(1, cfg.n_max + 1)])
        Q = encode_unique(encoder.encode_queries, [q["text"] for q in study.queries["xquad-xr"]], scratch,
                          "texts", cfg.encode_chunk)  # as the queries stage encodes them
        for name, array in (("P", P), ("S", S), ("Q", Q)):
            save_npy_atomic(out / f"{name}.npy", array)

    runner.run(f"encode-{slug(plm)}", inputs, fn)
    return runner.output(f"encode-{slug(plm)}")


def encode_seconds(work: Path, plm: str) -> float:
    """How long :func:`encode_index` took when it encoded (a skipped rerun takes none)."""
    return json.loads((work / f"encode-{slug(plm)}.done.json").read_text(encoding="utf-8"))["seconds"]


def deviation_from_index(finest: dict[str, np.ndarray], read: dict[str, np.ndarray],
                         encoded: dict[str, np.ndarray]) -> dict[str, float]:
    """Per array, ``max |read - encoded| / bound``: at most 1 when ``encoded`` is what the index was
    rounded from (``read``: the index read back to float32, :meth:`Artifacts.index`; ``finest``:
    the tensors of its finest stored level). Bound: half a step of the row's int8 scale
    (``*.scale`` stored), else float16's half unit in the last place, plus :data:`ENCODE_TOLERANCE`."""
    out = {}
    for key in ("P", "S", "Q"):
        if read[key].shape != encoded[key].shape:
            raise ArtifactError(f"index {key}: the study's is {read[key].shape}, re-encoded {encoded[key].shape}")
        if f"{key}.scale" in finest:
            bound = finest[f"{key}.scale"][..., None] / 2
        else:
            bound = np.abs(finest[key].astype(np.float32)) * 2.0 ** -11
        out[key] = float((np.abs(read[key] - encoded[key]) / (bound + ENCODE_TOLERANCE)).max())
    return out


def reindex(root: str | Path | None = None, work: Path | None = None) -> Artifacts:
    """Re-encode every PLM's index, check it against the study's, and swap in the study with
    the index as this code stores it (module doc): a first level of int8 rows with S centred
    (schema 4's file) is kept as it is, and the residual levels added."""
    arts = load_artifacts(root)
    missing = [plm for plm in arts.encoders if not arts.index_files(plm)]
    if missing:
        raise ArtifactError(f"{arts.root}: no xquad-xr index of {', '.join(missing)} to rebuild "
                            "(the study's config has no xquad_xr, or its index files are not in the manifest)")
    start = time.perf_counter()
    partial = arts.root / ".export.partial"
    try:
        (partial / "index").mkdir(parents=True)
    except OSError as exc:  # load_artifacts cleared any partial it could: a read-only study, say
        raise ArtifactError(f"{partial}: cannot write the rebuilt study there ({exc.strerror})") from None
    try:
        checks = {}
        for plm in arts.encoders:
            encoded = {k: np.load(encode_index(arts, plm, work) / f"{k}.npy") for k in ("P", "S", "Q")}
            levels = [arts.tensors(rel) for rel in arts.index_files(plm)]
            finest = {k: v for t in levels for k, v in t.items()}  # each array's scale from its last level
            checks[plm] = deviation_from_index(finest, arts.index(plm), encoded)
            if max(checks[plm].values()) > 1.0:
                raise ArtifactError(f"{plm}: the re-encoded index is not the study's (max |difference| / rounding "
                                    f"bound: {checks[plm]}); the encoder or the study's texts differ")
            first = levels[0] if all(k in levels[0] for k in ("S.mean", "P.scale", "S.scale", "Q.scale")) else None
            if first is not None:  # schema 4's file stays, byte for byte
                os.link(arts.path(f"index/{slug(plm)}.safetensors"), partial / "index" / f"{slug(plm)}.safetensors")
            write_index(partial / "index", plm, encoded["P"], encoded["S"], encoded["Q"], first)
            log.info("%s: re-encoded, within %s of the study's rounding bound", plm, checks[plm])
        for name in STUDY_ENTRIES:
            source = arts.path(name)
            if name in ("index", "manifest.json") or not source.exists():
                continue
            # hard links: the unchanged files move in beside the new index without a copy
            if source.is_dir():
                shutil.copytree(source, partial / name, copy_function=os.link)
            else:
                os.link(source, partial / name)
        manifest = {**arts.manifest, "schema_version": SCHEMA_VERSION, "files": manifest_files(partial)}
        manifest["index"] = {
            "rebuilt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "code_version": code_version(),
            "seconds": round(time.perf_counter() - start, 1),
            "encode_seconds": {plm: round(encode_seconds(work or default_work(arts), plm), 1) for plm in arts.encoders},
            "check": "float32 re-encoded from texts/ and generated_queries.parquet against the previous index: "
                     "max |difference| / that index's rounding bound, per array",
            "deviation": {plm: {k: round(v, 4) for k, v in c.items()} for plm, c in checks.items()}}
    except BaseException:
        shutil.rmtree(partial)  # no manifest in it yet: the study stays as it was
        raise
    write_json_atomic(partial / "manifest.json", manifest)  # complete from here on (swap_in's recovery)
    swap_in(arts.root)
    return load_artifacts(arts.root)


def main_reindex(artifacts: str | None, work_dir: str | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    if work_dir and Path(work_dir).exists() and not Path(work_dir).is_dir():
        raise ArtifactError(f"--work-dir {work_dir}: a file, not a directory")
    arts = reindex(artifacts, Path(work_dir) if work_dir else None)
    print(json.dumps(arts.manifest["index"], indent=1))
