"""Stage ``export``: ``cached_artifacts/`` from the finished stages (schema: :mod:`xqg_core.study.artifacts`).

Reads the ``corpora``, ``generate-*``, ``index-*``, ``queries-*``, ``grid-*`` and ``umap`` outputs of
the work directory; writes a complete study into ``{output}/.export.partial`` (the manifest
last) and swaps it in (:mod:`xqg_core.study.swap`).
"""
from __future__ import annotations

import json
import logging
import shutil
import time
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from xqg_core.checksums import file_sha1, fingerprint
from xqg_core.io import MAX_FILE_BYTES, over_size_budget, save_arrays_parquet, write_json_atomic
from xqg_core.paths import slug
from xqg_core.study.artifacts import (
    MAX_TOTAL_BYTES,
    SCHEMA_VERSION,
    ArtifactError,
    code_version,
    docids_sha1,
    unsupported_languages,
)
from xqg_core.study.index_store import write_index
from xqg_core.study.swap import recover_swap, swap_in

if TYPE_CHECKING:
    from xqg_core.pipeline.context import Pipeline

log = logging.getLogger("xqg_core.pipeline")

BINARY_METRICS = {"R@2kt", "R@5kt", "clean", "adversarial", "win", "para"}


DEVIATIONS = (
    "Benchmarks: xquad-xr and pawsx-adv stand in for XOR-TyDi (18M passages, no offline copy); "
    "the paper's setting runs from configs/xor_tydi_full.yaml where the hub is reachable.",
    "Encoders: multilingual-e5-small and USE-multilingual v3 (off the shelf), and me5-static, a static "
    "encoder distilled here from multilingual-e5-small (model2vec's recipe: every token embedded, PCA to "
    "128-d, Zipf-weighted; a text is the mean of its tokens' vectors), instead of the paper's mBERT / "
    "XLM-R xDR checkpoints.",
    "Study v3 additions, not in the paper: a cross-fitted human-question upper bound, copy-only / no-copy "
    "controls (a query word is copied when it occurs in its passage's title or text; a query left with no "
    "word is encoded as the empty text, so that every passage sums 7n query embeddings), alpha selected "
    "on a dev half of XQuAD's articles and reported on the test half, paired-bootstrap 95% intervals and "
    "Holm-adjusted p-values.",
    "PAWS-X outcomes are tie-aware: scores within 1e-6 are tied and an outcome is its expected value "
    "under random tie-breaking (an order-blind encoder gives a sentence and its word swap one vector).",
    "Generator: me5-qg, a small encoder-decoder on multilingual-e5-small with a copy mechanism, trained "
    "here on about 19k real pairs (MLQA, TyDi GoldP, XOR-TyDi translations), decoded with script and "
    "vocabulary constraints and copy rules chosen on held-out data, instead of the paper's mT5-base "
    "trained on XOR-TyDi.",
)


def examples_file_sha1(data_dir: Path) -> dict[str, str]:
    """The XOR-TyDi dev file the live-search examples come from, when the data directory has it."""
    path = data_dir / "xor_tydi" / "xor_dev_retrieve_eng_span_v1_1.jsonl"
    return {"xor_tydi/xor_dev_retrieve_eng_span_v1_1.jsonl": file_sha1(path)} if path.is_file() else {}


def _compact(key: str, values: np.ndarray) -> np.ndarray:
    """A stored outcome (``metric`` or ``variant/metric``) in int8 (binary, -1 = not evaluated) or float16
    (fractions; a PAWS-X outcome is one where ties share the top)."""
    known = values[~np.isnan(values)]
    if key.rsplit("/", 1)[-1] in BINARY_METRICS and np.isin(known, (0.0, 1.0)).all():
        return np.where(np.isnan(values), -1, values).astype(np.int8)
    return values.astype(np.float16)


def study_is_current(out: Path, inputs_fp: str) -> bool:
    """The study in ``out`` was exported from these stages and every file still matches its
    manifest (a damaged study is exported again, not skipped)."""
    from xqg_core.study.artifacts import load_artifacts

    try:
        return load_artifacts(out).manifest.get("inputs_fingerprint") == inputs_fp
    except ArtifactError as exc:
        log.warning("export: the study in %s is exported again (%s)", out, exc)
        return False


def export_artifacts(pipe: Pipeline) -> Path:
    """Write ``cached_artifacts/`` from the finished stages; the manifest goes last."""
    import pandas as pd
    from safetensors.numpy import load_file

    from xqg_core.study.config import CORPUS_OF
    from xqg_core.study.inputs import read_corpus, read_jsonl

    cfg = pipe.cfg
    out = cfg.resolved_output()
    stage_names = ["corpora"] + [f"grid-{b}" for b in cfg.benchmarks()]
    stage_names += [f"index-{slug(plm)}-{CORPUS_OF[b]}" for plm in cfg.encoders for b in cfg.benchmarks()]
    stage_names += [f"generate-{c}{pipe.shard_suffix(s)}" for c in pipe.corpus_names() for s in range(cfg.num_shards)]
    stage_names += [f"variants-{slug(plm)}-{c}" for c in pipe.variant_corpora() for plm in cfg.encoders]
    if cfg.umap and cfg.xquad_xr:
        stage_names.append("umap")
    inputs = {name: pipe.stage_fp(name) for name in stage_names}
    inputs_fp = fingerprint({"stages": inputs, "schema": SCHEMA_VERSION})
    recover_swap(out)
    if not pipe.force and study_is_current(out, inputs_fp):
        return out
    partial = out / ".export.partial"
    if partial.exists():
        shutil.rmtree(partial)
    for sub in ("corpora", "queries", "outcomes", "index", "texts"):
        (partial / sub).mkdir(parents=True)

    corpora_info = {}
    for corpus in pipe.corpus_names():
        docids = [p.docid for p in read_corpus(pipe.corpus_path(corpus))]
        pd.DataFrame({"docid": docids}).to_parquet(partial / "corpora" / f"{corpus}.parquet", index=False)
        corpora_info[corpus] = {"num_passages": len(docids), "docids_sha1": docids_sha1(docids)}

    frames = []
    for corpus in pipe.corpus_names() if cfg.export_generated_queries else []:
        for s in range(cfg.num_shards):
            for r in read_jsonl(pipe.out(f"generate-{corpus}{pipe.shard_suffix(s)}") / "generated.jsonl"):
                for lang, items in r["generated_queries"].items():
                    frames += [(corpus, r["docid"], lang, i, q) for i, q in enumerate(items[: cfg.n_max])]
    pd.DataFrame(frames, columns=["corpus", "passage_id", "lang", "i", "text"]).to_parquet(
        partial / "generated_queries.parquet", index=False, compression="zstd")

    from xqg_core.study.texts import live_examples, write_texts

    corpora = {c: read_corpus(pipe.corpus_path(c)) for c in pipe.corpus_names()}
    query_texts = {b: read_jsonl(pipe.out("corpora") / b / "queries.jsonl") for b in cfg.benchmarks()}
    write_texts(partial / "texts", corpora, query_texts, live_examples(query_texts, pipe.data_dir))

    results = []
    for benchmark in cfg.benchmarks():
        grid_dir = pipe.out(f"grid-{benchmark}")
        results.append(pd.read_parquet(grid_dir / "results.parquet"))
        queries = read_jsonl(pipe.out("corpora") / benchmark / "queries.jsonl")
        keep = [k for k in ("id", "lang", "row", "gold", "twin", "label") if k in queries[0]] if queries else ["id"]
        pd.DataFrame([{k: q[k] for k in keep} for q in queries]).to_parquet(
            partial / "queries" / f"{benchmark}.parquet", index=False)
        (partial / "outcomes" / benchmark).mkdir()
        for plm in cfg.encoders:
            tensors = {m: _compact(m, v) for m, v in load_file(str(grid_dir / f"outcomes-{slug(plm)}.safetensors")).items()}
            parts = grid_dir / f"parts-{slug(plm)}.safetensors"
            if parts.is_file():
                tensors["parts"] = load_file(str(parts))["parts"]
            save_arrays_parquet(partial / "outcomes" / benchmark / f"{slug(plm)}.parquet", tensors)
    pd.concat(results).to_parquet(partial / "results.parquet", index=False)
    halves = [pd.read_parquet(pipe.out(f"grid-{b}") / "splits.parquet") for b in cfg.benchmarks()
              if (pipe.out(f"grid-{b}") / "splits.parquet").is_file()]
    if halves:
        pd.concat(halves).to_parquet(partial / "splits.parquet", index=False)
    copying = {plm: json.loads((pipe.out(f"variants-{slug(plm)}-{c}") / "copying.json").read_text(encoding="utf-8"))
               for c in pipe.variant_corpora() for plm in cfg.encoders}

    if cfg.xquad_xr:
        for plm in cfg.encoders:
            index = pipe.out(f"index-{slug(plm)}-xquad-xr")
            write_index(partial / "index", plm, np.load(index / "P.npy"), np.load(index / "S.npy"),
                        np.load(pipe.out(f"queries-{slug(plm)}-xquad-xr") / "Q.npy"))
    if cfg.umap and cfg.xquad_xr:
        shutil.copyfile(pipe.out("umap") / "umap.parquet", partial / "umap.parquet")

    files = manifest_files(partial)

    from xqg_core.pipeline.identity import encoder_identity, generator_identity

    timings = {}
    for done in sorted(pipe.runner.work.glob("*.done.json")):
        timings[done.name[: -len(".done.json")]] = round(json.loads(done.read_text(encoding="utf-8"))["seconds"], 2)
    cell_seconds = {b: json.loads((pipe.out(f"grid-{b}") / "cell_seconds.json").read_text(encoding="utf-8"))
                    for b in cfg.benchmarks()}
    manifest = {
        "schema_version": SCHEMA_VERSION,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "code_version": code_version(),
        "config": asdict(cfg),
        "data": {**pipe.file_sha1, **examples_file_sha1(pipe.data_dir)},
        "models": {"encoders": {plm: encoder_identity(plm) for plm in cfg.encoders},
                   "generator": generator_identity(cfg.generator)},
        "corpora": corpora_info,
        "benchmarks": json.loads((pipe.out("corpora") / "summaries.json").read_text(encoding="utf-8")),
        "stage_seconds": timings,
        "grid_cell_seconds": {b: {plm: round(float(np.median(v)), 4) for plm, v in t.items()}
                              for b, t in cell_seconds.items()},
        "significance": {"test": "paired randomization test, two-sided", "resamples": cfg.significance_resamples,
                         "baseline": "alpha = 0, same PLM and n",
                         "intervals": "paired bootstrap 95% percentile interval, queries resampled within a language, "
                                      "macro = mean of the languages'; MDE at 0.05 / 80% power; p_adj: Holm over "
                                      "the languages of a cell" if halves else None,
                         "selection": "alpha > 0 with the best dev-half macro R@2kt (articles split in halves, "
                                      f"seed {cfg.seed}); reported on the test half" if halves else None},
        "copying": copying,
        "unsupported_languages": unsupported_languages(cfg),
        "deviations": list(DEVIATIONS) if cfg.name == "default" else [],
        "inputs_fingerprint": inputs_fp,
        "files": files,
    }
    write_json_atomic(partial / "manifest.json", manifest)  # the new study is complete from here on
    swap_in(out)
    return out


def manifest_files(study: Path) -> dict[str, dict[str, Any]]:
    """Every file of a study directory with its sha1 and size; refuses a file over 50 MB or a study over 250 MB."""
    paths = {path.relative_to(study).as_posix(): path
             for path in sorted(p for p in study.rglob("*") if p.is_file() and p.name != "manifest.json")}
    sizes = {rel: path.stat().st_size for rel, path in paths.items()}
    problem = over_size_budget(sizes, MAX_FILE_BYTES, MAX_TOTAL_BYTES, "the study")
    if problem:
        raise ArtifactError(problem)
    return {rel: {"sha1": file_sha1(path), "bytes": sizes[rel]} for rel, path in paths.items()}
