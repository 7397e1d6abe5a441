"""``cached_artifacts/``: what the precompute ships and the dashboard reads (schema below).

Written only by :func:`export_artifacts` (the precompute's last stage); read through
:func:`load_artifacts`, which checks the schema version and every file's checksum and
says what to do on a mismatch. Corpora and queries are kept as ids; the texts the
dashboard shows ship apart, with their attribution, in ``texts/`` (:mod:`xqg_core.texts`),
and :func:`resolve_study` reads them there (artifacts without ``texts/`` are resolved from
the data directory, checked against the checksums in the manifest). Generated queries
are model outputs and are stored.

Files (arrays in safetensors, tables in parquet, no pickle):

- ``manifest.json``: schema_version, config, code version, data checksums, models,
  stage timings, corpora (size, docid checksum) and every file's sha1 and size;
- ``results.parquet``: ``benchmark, plm, variant, alpha, n, lang, metric, value, p_value,
  p_vs_xqg, num_queries`` (``variant``: ``xqg``, the passage's own queries, or ``shuffled``,
  another passage's - :mod:`xqg_core.controls`; ``lang = "avg"``: macro average over
  languages, ``"avg_supported"``: over the PLM's supported languages; values in percent;
  p_value: paired randomization test against alpha = 0 of the same PLM and n; p_vs_xqg:
  the same test of a control's cell against xQG's; pawsx-pair rows are the encoder's pair
  classification, independent of alpha and n);
- ``generated_queries.parquet``: ``corpus, passage_id, lang, i, text``;
- ``corpora/{corpus}.parquet``: ``docid`` in index order;
- ``queries/{benchmark}.parquet``: query ids and languages (pawsx-adv: row, gold, twin, label);
- ``outcomes/{benchmark}/{plm}.parquet`` (safetensors before schema 4): per-query outcomes
  ``[alpha, n, query]`` per metric (xQG) and per ``{variant}/{metric}`` (controls),
  int8 (1 hit, 0 miss, -1 not evaluated) for binary metrics, float16 fractions otherwise;
  pawsx-adv also ``parts`` (see :func:`xqg_core.grid.pawsx_score_parts`); one zstd parquet
  row per array (:func:`xqg_core.io.save_arrays_parquet`, ~20x smaller);
- ``index/{plm}.safetensors``: ``P`` [passages, d], ``S`` [n_max, passages, d] and ``Q``
  [queries, d] of xquad-xr as int8 rows with float32 per-row scales (``P.scale``, ...;
  schema 2: float16); from schema 4 ``S`` is stored centred, ``S - S.mean`` with
  ``S.mean`` [n_max, d] in float32; from schema 5 ``index/{plm}.level{k}.safetensors``
  (k = 2, 3) hold what the levels before rounded away, again as int8 rows with scales
  (:data:`INDEX_LEVELS`, :func:`write_index`). Read by :meth:`Artifacts.index`: live search
  and off-grid alpha; :mod:`xqg_core.reindex` adds the levels to a study from its own texts;
- ``umap.parquet``: ``plm, kind, alpha, passage, lang, i, x, y``;
- ``texts/``: passages, queries and live-search examples with their texts (:mod:`xqg_core.texts`).
"""
from __future__ import annotations

import hashlib
import json
import logging
import shutil
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import XqgError
from .io import load_arrays_parquet, save_arrays_parquet, write_json_atomic
from .paths import ARTIFACTS_DIR, PROJECT_ROOT, slug
from .stages import file_sha1, fingerprint

if TYPE_CHECKING:
    from .precompute import Pipeline

log = logging.getLogger(__name__)

# 2: pawsx-adv over a pool of distinct sentences, label-0 headline metrics, para_acc1;
# 3: controls (variant, p_vs_xqg), avg_supported, the index as int8 rows with per-row scales;
# 4: S centred, outcomes in parquet; 5: the index's residual levels (write_index)
SCHEMA_VERSION = 5
# a version-2 study reads as xQG rows only, its index in float16; 3: S not centred, outcomes in safetensors
READABLE_SCHEMAS = (2, 3, 4, 5)
MAX_FILE_BYTES = 50 * 1024 * 1024
MAX_TOTAL_BYTES = 250 * 1024 * 1024  # the study, the generator weights beside it included
BINARY_METRICS = {"R@2kt", "R@5kt", "clean", "adversarial", "win", "para"}
REBUILD_HINT = "rebuild them with `python -m xqg_core precompute --config configs/default.yaml`"
DEVIATIONS = (
    "Benchmarks: xquad-xr and pawsx-adv stand in for XOR-TyDi (18M passages, no offline copy); "
    "the paper's setting runs from configs/xor_tydi_full.yaml where the hub is reachable.",
    "Encoders: multilingual-e5-small and USE-multilingual v3 (off the shelf) instead of the paper's "
    "mBERT / XLM-R xDR checkpoints.",
    "Generator: me5-qg, a small encoder-decoder on multilingual-e5-small with a copy mechanism, trained "
    "here on about 19k real pairs (MLQA, TyDi GoldP, XOR-TyDi translations), decoded with script and "
    "vocabulary constraints and copy rules chosen on held-out data, instead of the paper's mT5-base "
    "trained on XOR-TyDi.",
)


class ArtifactError(XqgError):
    """Missing, stale or corrupt cached artifacts (the message says how to rebuild them)."""


def code_version() -> str:
    """The git commit of the project (``+dirty`` with uncommitted changes), or ``unknown``."""
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=PROJECT_ROOT, capture_output=True, text=True,
                                timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=PROJECT_ROOT,
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return (commit + ("+dirty" if dirty else "")) if commit else "unknown"


def commits_since(commit: str) -> int | None:
    """How many commits the checkout's HEAD is past ``commit`` (None: not known here)."""
    try:
        out = subprocess.run(["git", "rev-list", "--count", f"{commit.split('+')[0]}..HEAD"], cwd=PROJECT_ROOT,
                             capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return int(out.stdout.strip()) if out.returncode == 0 and out.stdout.strip().isdigit() else None


def examples_file_sha1(data_dir: Path) -> dict[str, str]:
    """The XOR-TyDi dev file the live-search examples come from, when the data directory has it."""
    path = data_dir / "xor_tydi" / "xor_dev_retrieve_eng_span_v1_1.jsonl"
    return {"xor_tydi/xor_dev_retrieve_eng_span_v1_1.jsonl": file_sha1(path)} if path.is_file() else {}


def docids_sha1(docids: list[str]) -> str:
    return hashlib.sha1("\n".join(docids).encode("utf-8")).hexdigest()


# ----------------------------------------------------------------------------- export
def _compact(key: str, values: np.ndarray) -> np.ndarray:
    """A stored outcome (``metric`` or ``variant/metric``) in int8 (binary, -1 = not evaluated) or float16."""
    if key.rsplit("/", 1)[-1] in BINARY_METRICS:
        return np.where(np.isnan(values), -1, values).astype(np.int8)
    return values.astype(np.float16)


def export_artifacts(pipe: "Pipeline") -> Path:
    """Write ``cached_artifacts/`` from the finished stages; the manifest goes last."""
    import pandas as pd
    from safetensors.numpy import load_file

    from .precompute import CORPUS_OF, read_corpus, read_jsonl

    cfg = pipe.cfg
    out = cfg.resolved_output()
    stage_names = ["corpora"] + [f"grid-{b}" for b in cfg.benchmarks()]
    stage_names += [f"index-{slug(plm)}-{CORPUS_OF[b]}" for plm in cfg.encoders for b in cfg.benchmarks()]
    stage_names += [f"generate-{c}{pipe.shard_suffix(s)}" for c in pipe.corpus_names() for s in range(cfg.num_shards)]
    if cfg.umap and cfg.xquad_xr:
        stage_names.append("umap")
    inputs = {name: pipe.stage_fp(name) for name in stage_names}
    inputs_fp = fingerprint({"stages": inputs, "schema": SCHEMA_VERSION})
    manifest_path = out / "manifest.json"
    if manifest_path.is_file() and not pipe.force:
        try:
            if json.loads(manifest_path.read_text(encoding="utf-8")).get("inputs_fingerprint") == inputs_fp:
                return out
        except json.JSONDecodeError:
            pass
    recover_swap(out)
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

    from .texts import live_examples, write_texts

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

    if cfg.xquad_xr:
        for plm in cfg.encoders:
            index = pipe.out(f"index-{slug(plm)}-xquad-xr")
            write_index(partial / "index", plm, np.load(index / "P.npy"), np.load(index / "S.npy"),
                        np.load(pipe.out(f"queries-{slug(plm)}-xquad-xr") / "Q.npy"))
    if cfg.umap and cfg.xquad_xr:
        shutil.copyfile(pipe.out("umap") / "umap.parquet", partial / "umap.parquet")

    files = manifest_files(partial)

    from .precompute import encoder_identity, generator_identity

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
                         "baseline": "alpha = 0, same PLM and n"},
        "unsupported_languages": unsupported_languages(cfg),
        "deviations": list(DEVIATIONS) if cfg.name == "default" else [],
        "inputs_fingerprint": inputs_fp,
        "files": files,
    }
    write_json_atomic(partial / "manifest.json", manifest)  # the new study is complete from here on
    swap_in(out)
    return out


def index_tensors(P: np.ndarray, S: np.ndarray, Q: np.ndarray) -> dict[str, np.ndarray]:
    """The index's first level (schema 4's file): ``P``, ``S - S.mean`` and ``Q`` as int8 rows with
    float32 per-row scales (``P.scale``, ...), ``S.mean`` [n_max, d] in float32 (the sums of 35 query
    vectors share a large common direction, norm ~20-30 against unit passages, that per-row
    scales would otherwise spend their steps on)."""
    tensors = {"S.mean": S.mean(axis=1).astype(np.float32)}
    for key, matrix in (("P", P), ("S", S - tensors["S.mean"][:, None, :]), ("Q", Q)):
        tensors[key], tensors[f"{key}.scale"] = quantize_rows(matrix)
    return tensors


# int8 levels per array: each level after the first stores, again as int8 rows with per-row
# scales, what the levels before it rounded away; k levels are 8k-bit fixed point per row.
# P and Q (the score's (1 - alpha) <q, p> term) take 3, S (weighted by alpha) 2: every
# off-grid cell of the default study then within 0.084 points of the float32 grid (both PLMs,
# benchmarks/index_precision.py), where 2 levels everywhere leave near-ties 3e-7 apart to swap
# (use-m-v3: 0.168) and the first level alone 0.67 (me5-small)
INDEX_LEVELS = {"P": 3, "S": 2, "Q": 3}


def residual_levels(P: np.ndarray, S: np.ndarray, Q: np.ndarray, first: dict[str, np.ndarray]) -> list[dict[str, np.ndarray]]:
    """Levels 2, 3, ... of the index (:data:`INDEX_LEVELS`) after ``first`` (:func:`index_tensors`): level
    k holds what levels 1..k-1 rounded away; after k levels each component is within
    ``max|row| / (127 * 254 ** (k - 1) * 2)`` of float32."""
    exact = {"P": P, "S": S - first["S.mean"][:, None, :], "Q": Q}
    read = {key: dequantize_rows(first[key], first[f"{key}.scale"]) for key in exact}
    levels = []
    for level in range(2, max(INDEX_LEVELS.values()) + 1):
        tensors = {}
        for key in (k for k in exact if INDEX_LEVELS[k] >= level):
            tensors[key], tensors[f"{key}.scale"] = quantize_rows(np.asarray(exact[key], dtype=np.float32) - read[key])
            read[key] = read[key] + dequantize_rows(tensors[key], tensors[f"{key}.scale"])
        levels.append(tensors)
    return levels


def write_index(dest: Path, plm: str, P: np.ndarray, S: np.ndarray, Q: np.ndarray,
                first: dict[str, np.ndarray] | None = None) -> list[Path]:
    """``dest/{plm}.safetensors`` (the first level, :func:`index_tensors`; not written when ``first``,
    a study's existing one, is given) and ``dest/{plm}.level{k}.safetensors`` for k = 2, 3, ...
    (:func:`residual_levels`). Files of int8 rows rather than one of wider integers: each stays
    under the 50 MB limit at 12.7k passages, and a study of schema 4 keeps its file."""
    from safetensors.numpy import save_file

    dest.mkdir(parents=True, exist_ok=True)
    paths = []
    if first is None:
        first = index_tensors(P, S, Q)
        paths.append(dest / f"{slug(plm)}.safetensors")
        save_file(first, str(paths[-1]))
    for level, tensors in enumerate(residual_levels(P, S, Q, first), start=2):
        paths.append(dest / f"{slug(plm)}.level{level}.safetensors")
        save_file(tensors, str(paths[-1]))
    return paths


def manifest_files(study: Path) -> dict[str, dict[str, Any]]:
    """Every file of a study directory with its sha1 and size; refuses a file over 50 MB or a study over 250 MB."""
    files = {}
    for path in sorted(p for p in study.rglob("*") if p.is_file() and p.name != "manifest.json"):
        rel = path.relative_to(study).as_posix()
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ArtifactError(f"{rel} is {size / 2**20:.1f} MB, over the {MAX_FILE_BYTES // 2**20} MB limit per file")
        files[rel] = {"sha1": file_sha1(path), "bytes": size}
    total = sum(f["bytes"] for f in files.values())
    if total > MAX_TOTAL_BYTES:
        raise ArtifactError(f"artifacts total {total / 2**20:.1f} MB, over the {MAX_TOTAL_BYTES // 2**20} MB limit")
    return files


def unsupported_languages(cfg) -> dict[str, dict[str, list[str]]]:
    """Per PLM and benchmark, the query languages the PLM was not trained on (the app marks them)."""
    from .encoders import supported_languages

    langs = {"xquad-xr": cfg.xquad_xr.langs if cfg.xquad_xr else (), "pawsx-adv": cfg.pawsx_adv.langs if cfg.pawsx_adv else (),
             "xor-retrieve": (cfg.xor_retrieve.langs or ()) if cfg.xor_retrieve else ()}
    out = {}
    for plm in cfg.encoders:
        supported = supported_languages(plm)
        missing = {b: [lang for lang in ls if supported is not None and lang not in supported] for b, ls in langs.items()}
        if any(missing.values()):
            out[plm] = {b: ls for b, ls in missing.items() if ls}
    return out


# What a study is in the artifacts directory (the shipped generator and READMEs beside it are not).
STUDY_ENTRIES = ("manifest.json", "corpora", "queries", "outcomes", "index", "texts", "results.parquet",
                 "generated_queries.parquet", "umap.parquet")


def swap_in(out: Path) -> None:
    """Replace the study in ``out`` by the complete one in ``out/.export.partial``.

    1. the previous study's entries move to ``out/.export.previous``, which is then marked
       complete; 2. the new entries move in, the manifest last; 3. both folders go. A kill at
    any point leaves every file of both studies on disk, and :func:`recover_swap` (run by
    the next export or load) finishes the swap, or undoes step 1 if it was cut short.
    """
    partial, previous = out / ".export.partial", out / ".export.previous"
    moved = previous / ".complete"
    if not moved.is_file():
        previous.mkdir(exist_ok=True)
        for name in STUDY_ENTRIES:
            if (out / name).exists():
                (out / name).rename(previous / name)
        moved.touch()
    for child in sorted(partial.iterdir(), key=lambda c: c.name == "manifest.json"):
        child.rename(out / child.name)  # step 1 emptied every study entry of out
    partial.rmdir()
    shutil.rmtree(previous)


def recover_swap(out: Path) -> None:
    """Finish an export killed while swapping studies (see :func:`swap_in`); an export killed
    before its study was complete leaves only a partial folder, which is removed."""
    partial, previous = out / ".export.partial", out / ".export.previous"
    if previous.is_dir() and not (previous / ".complete").is_file():  # step 1 cut short: undo it
        for child in previous.iterdir():
            child.rename(out / child.name)
        previous.rmdir()
    if (partial / "manifest.json").is_file():
        swap_in(out)
    elif previous.is_dir():  # killed after the last move
        shutil.rmtree(previous)
    if partial.exists() and not (partial / "manifest.json").is_file():
        shutil.rmtree(partial)


# ----------------------------------------------------------------------------- loading
def read_results(path: Path, variant: str | None = "xqg"):
    """The rows of ``variant`` (xqg: the passages' own queries; a control's name), without
    the variant column; None: every row. A study built before controls has xQG rows only."""
    import pandas as pd

    res = pd.read_parquet(path)
    if variant is None or "variant" not in res.columns:
        return res
    return res[res["variant"].isna() | (res["variant"] == variant)].drop(columns=["variant", "p_vs_xqg"]).reset_index(drop=True)


@dataclass
class Artifacts:
    root: Path
    manifest: dict[str, Any]

    def path(self, rel: str) -> Path:
        return self.root / rel

    @property
    def encoders(self) -> list[str]:
        return list(self.manifest["config"]["encoders"])

    @property
    def alphas(self) -> list[float]:
        return list(self.manifest["config"]["alphas"])

    @property
    def n_max(self) -> int:
        return int(self.manifest["config"]["n_max"])

    def results(self, variant: str | None = "xqg"):
        """``results.parquet``, the rows of one variant (None: every variant)."""
        return read_results(self.path("results.parquet"), variant)

    def table(self, rel: str):
        import pandas as pd

        return pd.read_parquet(self.path(rel))

    def tensors(self, rel: str) -> dict[str, np.ndarray]:
        from safetensors.numpy import load_file

        return load_file(str(self.path(rel)))

    def outcomes(self, benchmark: str, plm: str) -> dict[str, np.ndarray]:
        """Per-query outcomes of one benchmark and PLM (parquet from schema 4, safetensors before)."""
        if self.manifest.get("schema_version", 0) >= 4:
            try:
                return load_arrays_parquet(self.path(f"outcomes/{benchmark}/{slug(plm)}.parquet"))
            except ValueError as exc:
                raise ArtifactError(f"{exc}; {REBUILD_HINT}") from None
        return self.tensors(f"outcomes/{benchmark}/{slug(plm)}.safetensors")

    def index_files(self, plm: str) -> list[str]:
        """The index files of one PLM, first level first (:func:`write_index`; before schema 5, one)."""
        first = f"index/{slug(plm)}.safetensors"
        levels = sorted((rel for rel in self.manifest["files"] if rel.startswith(f"index/{slug(plm)}.level")),
                        key=lambda rel: int(rel[len(f"index/{slug(plm)}.level"):-len(".safetensors")]))
        return ([first] if first in self.manifest["files"] else []) + levels

    def index(self, plm: str) -> dict[str, np.ndarray]:
        """``P``, ``S``, ``Q`` of xquad-xr for one PLM in float32: int8 rows with per-row scales
        (:func:`dequantize_rows`; schema 2: float16), S centred on ``S.mean`` from schema 4, plus
        from schema 5 the further levels (:func:`write_index`)."""
        levels = [self.tensors(rel) for rel in self.index_files(plm)]
        out = {k: sum(dequantize_rows(t[k], t[f"{k}.scale"]) if f"{k}.scale" in t else t[k].astype(np.float32)
                      for t in levels if k in t) for k in ("P", "S", "Q")}
        if "S.mean" in levels[0]:
            out["S"] += levels[0]["S.mean"][:, None, :]
        return out


def index_storage(schema_version: int) -> str:
    """How a study of this schema stores its index (what the app's off-grid cells are computed from)."""
    if schema_version >= 5:
        return ("int8 rows with per-row scales and their int8 residuals: " +
                ", ".join(f"{k} {8 * v}-bit" for k, v in INDEX_LEVELS.items()) + " fixed point per row, S centred")
    if schema_version >= 3:
        return "int8 rows with per-row scales" + (", S centred" if schema_version >= 4 else "")
    return "float16"


def quantize_rows(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """int8 values and float32 scales per row (last axis): ``x ~ q * scale``, ``scale = max|row| / 127``;
    the error per component is at most ``scale / 2``."""
    x = np.asarray(x, dtype=np.float32)
    scale = np.abs(x).max(axis=-1) / 127.0
    scale = np.where(scale > 0, scale, 1.0).astype(np.float32)
    return np.clip(np.rint(x / scale[..., None]), -127, 127).astype(np.int8), scale


def dequantize_rows(q: np.ndarray, scale: np.ndarray) -> np.ndarray:
    return q.astype(np.float32) * scale[..., None].astype(np.float32)


def check_manifest_shape(manifest: dict, path: Path) -> None:
    """Every field the pages read, with its type; the config must be a valid study config."""
    from .config import dataclass_from_dict
    from .errors import DataFormatError
    from .precompute import PrecomputeConfig

    def bad(field: str, problem: str):
        raise ArtifactError(f"{path}: field {field!r} {problem}; {REBUILD_HINT}")

    for key, kind in (("config", dict), ("files", dict), ("corpora", dict), ("data", dict), ("models", dict),
                      ("significance", dict)):
        if key not in manifest:
            bad(key, "missing")
        if not isinstance(manifest[key], kind):
            bad(key, f"is a {type(manifest[key]).__name__}, not a {kind.__name__}")
    for rel, info in manifest["files"].items():
        if not (isinstance(info, dict) and isinstance(info.get("sha1"), str) and isinstance(info.get("bytes"), int)):
            bad(f"files.{rel}", "needs sha1 (text) and bytes (integer)")
        if Path(rel).is_absolute() or ".." in Path(rel).parts:
            bad(f"files.{rel}", "is not a path inside the artifacts")
    for key in ("encoders", "alphas", "n_max", "top_k", "significance_resamples"):
        if key not in manifest["config"]:
            bad(f"config.{key}", "missing")
    try:
        dataclass_from_dict(PrecomputeConfig, manifest["config"], path, "config")
    except DataFormatError as exc:
        raise ArtifactError(f"{exc}; {REBUILD_HINT}") from None
    for key in ("test", "resamples"):
        if key not in manifest["significance"]:
            bad(f"significance.{key}", "missing")


def load_artifacts(root: str | Path | None = None, verify: bool = True) -> Artifacts:
    """Read and check ``manifest.json``: schema version, every file present with its checksum."""
    root = Path(root) if root else ARTIFACTS_DIR
    try:
        recover_swap(root)
    except OSError as exc:  # a read-only checkout: show what is there
        log.warning("could not finish an interrupted export in %s: %s", root, exc)
    manifest_path = root / "manifest.json"
    if not manifest_path.is_file():
        raise ArtifactError(f"{manifest_path}: no artifacts here; {REBUILD_HINT}")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ArtifactError(f"{manifest_path}: line {exc.lineno}: invalid JSON ({exc.msg}); {REBUILD_HINT}") from None
    version = manifest.get("schema_version") if isinstance(manifest, dict) else None
    if version not in READABLE_SCHEMAS:
        raise ArtifactError(f"{manifest_path}: schema_version {version!r}, this code reads "
                            f"{', '.join(map(str, READABLE_SCHEMAS))}; "
                            f"{REBUILD_HINT}")
    check_manifest_shape(manifest, manifest_path)
    if verify:
        for rel, info in manifest["files"].items():
            path = root / rel
            if not path.is_file():
                raise ArtifactError(f"{path}: listed in the manifest but missing; {REBUILD_HINT}")
            if path.stat().st_size != info["bytes"] or file_sha1(path) != info["sha1"]:
                raise ArtifactError(f"{path}: checksum differs from the manifest (changed or truncated); "
                                    f"{REBUILD_HINT}")
    return Artifacts(root, manifest)


# ----------------------------------------------------------------------------- texts from the data dir
def artifact_config(arts: Artifacts):
    """The manifest's config as a :class:`~xqg_core.precompute.PrecomputeConfig`."""
    from .config import dataclass_from_dict
    from .precompute import PrecomputeConfig

    return dataclass_from_dict(PrecomputeConfig, arts.manifest["config"], arts.path("manifest.json"), "config")


def resolve_study(arts: Artifacts, data_dir: str | Path | None = None):
    """The corpora and queries with their texts, and the live-search examples.

    From the shipped ``texts/`` (:mod:`xqg_core.texts`) when the artifacts hold them: no data
    directory needed. Otherwise rebuilt from the data directory, whose files must be those
    the artifacts were built from (checksums in the manifest), with the same docids in the
    same order.
    """
    from .paths import resolve_data_dir
    from .precompute import build_study_inputs, data_files
    from .texts import TEXTS_DIR, live_examples, read_study_texts

    if f"{TEXTS_DIR}/passages.parquet" in arts.manifest["files"]:
        order = {c: arts.table(f"corpora/{c}.parquet").docid.tolist() for c in arts.manifest["corpora"]}
        tables = {b: arts.table(f"queries/{b}.parquet") for b in artifact_config(arts).benchmarks()}
        return read_study_texts(arts.root, order, tables)
    cfg = artifact_config(arts)
    root = resolve_data_dir(data_dir or cfg.data_dir)
    files = data_files(cfg, root)
    for name, expected in arts.manifest["data"].items():
        if name in files and file_sha1(files[name]) != expected:
            raise ArtifactError(f"{files[name]}: differs from the file the artifacts were built from "
                                f"(sha1 {expected[:10]}...); use that data directory or {REBUILD_HINT}")
    built = build_study_inputs(cfg, root, with_pairs=False)
    for corpus, info in arts.manifest["corpora"].items():
        if docids_sha1([p.docid for p in built.corpora.get(corpus, [])]) != info["docids_sha1"]:
            raise ArtifactError(f"corpus {corpus}: rebuilt passages differ from the artifacts'; {REBUILD_HINT}")
    built.examples = live_examples(built.queries, root)
    return built
