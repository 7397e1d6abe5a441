"""``cached_artifacts/``: what the precompute ships and the dashboard reads (schema below).

Written only by :func:`xqg_core.pipeline.stage_export.export_artifacts` (the precompute's last stage); read through
:func:`load_artifacts`, which checks the schema version and every file's checksum and
says what to do on a mismatch. Corpora and queries are kept as ids; the texts the
dashboard shows ship apart, with their attribution, in ``texts/`` (:mod:`xqg_core.study.texts`),
and :func:`resolve_study` reads them there (artifacts without ``texts/`` are resolved from
the data directory, checked against the checksums in the manifest). Generated queries
are model outputs and are stored.

Files (arrays in safetensors, tables in parquet, no pickle):

- ``manifest.json``: schema_version, config, code version, data checksums, models,
  stage timings, corpora (size, docid checksum) and every file's sha1 and size;
- ``results.parquet``: ``benchmark, plm, variant, alpha, n, lang, metric, value, p_value,
  p_vs_xqg, num_queries`` (``variant``: ``xqg``, the passage's own queries, or ``shuffled``,
  another passage's - :mod:`xqg_core.study.controls`; ``lang = "avg"``: macro average over
  languages, ``"avg_supported"``: over the PLM's supported languages; values in percent;
  p_value: paired randomization test against alpha = 0 of the same PLM and n; p_vs_xqg:
  the same test of a control's cell against xQG's; pawsx-pair rows are the encoder's pair
  classification, independent of alpha and n);
  From Study v3 each xquad-xr row also has ``ci_low, ci_high`` (paired bootstrap 95% interval of
  the difference from alpha = 0, points), ``mde`` (minimum detectable effect, 80% power at 0.05),
  ``p_adj`` (Holm over the languages of the cell and metric; a macro row keeps its p), and a
  control's ``vs_xqg_ci_low, vs_xqg_ci_high, vs_xqg_mde`` (its difference from xQG's cell);
  variants ``copy-only``, ``no-copy`` (generated queries reduced to / stripped of the words they
  copy from their passage) and ``human`` (the upper bound from real XQuAD questions, cross-fitted);
- ``splits.parquet`` (Study v3): the same keys plus ``split`` (``dev`` / ``test``: XQuAD's articles
  in seeded halves): ``value`` on both, the test half with p, p_adj, intervals and MDE; alpha is
  selected on dev (:func:`xqg_core.study.intervals.selected_alpha`);
- ``generated_queries.parquet``: ``corpus, passage_id, lang, i, text``;
- ``corpora/{corpus}.parquet``: ``docid`` in index order;
- ``queries/{benchmark}.parquet``: query ids and languages (pawsx-adv: row, gold, twin, label);
- ``outcomes/{benchmark}/{plm}.parquet`` (safetensors before schema 4): per-query outcomes
  ``[alpha, n, query]`` per metric (xQG) and per ``{variant}/{metric}`` (controls),
  int8 (1 hit, 0 miss, -1 not evaluated) for binary metrics, float16 fractions otherwise;
  pawsx-adv also ``parts`` (see :func:`xqg_core.study.grid.pawsx_score_parts`); one zstd parquet
  row per array (:func:`xqg_core.io.save_arrays_parquet`, ~20x smaller);
- ``index/{plm}.safetensors``: ``P`` [passages, d], ``S`` [n_max, passages, d] and ``Q``
  [queries, d] of xquad-xr as int8 rows with float32 per-row scales (``P.scale``, ...;
  schema 2: float16); from schema 4 ``S`` is stored centred, ``S - S.mean`` with
  ``S.mean`` [n_max, d] in float32; from schema 5 ``index/{plm}.level{k}.safetensors``
  (k = 2, 3) hold what the levels before rounded away, again as int8 rows with scales
  (:data:`INDEX_LEVELS`, :func:`write_index`). Read by :meth:`Artifacts.index`: live search
  and off-grid alpha; :mod:`xqg_core.pipeline.reindex` adds the levels to a study from its own texts;
- ``umap.parquet``: ``plm, kind, alpha, passage, lang, i, x, y``;
- ``texts/``: passages, queries and live-search examples with their texts (:mod:`xqg_core.study.texts`).
"""
from __future__ import annotations

import hashlib
import json
import logging
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from xqg_core.checksums import file_sha1
from xqg_core.errors import XqgError
from xqg_core.io import load_arrays_parquet
from xqg_core.paths import ARTIFACTS_DIR, PROJECT_ROOT, slug
from xqg_core.study.index_store import INDEX_LEVELS, dequantize_rows
from xqg_core.study.swap import recover_swap

log = logging.getLogger(__name__)


# 2: pawsx-adv over a pool of distinct sentences, label-0 headline metrics, para_acc1;
# 3: controls (variant, p_vs_xqg), avg_supported, the index as int8 rows with per-row scales;
# 4: S centred, outcomes in parquet; 5: the index's residual levels (write_index)
SCHEMA_VERSION = 5


# a version-2 study reads as xQG rows only, its index in float16; 3: S not centred, outcomes in safetensors
READABLE_SCHEMAS = (2, 3, 4, 5)


# the study's own files (manifest ``files``), each also under io.MAX_FILE_BYTES; the generator's
# weights in ``generator/`` are not the export's: their budget is checked when they are shipped
MAX_TOTAL_BYTES = 250_000_000


REBUILD_HINT = "rebuild them with `python -m xqg_core precompute --config configs/default.yaml`"


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


# What computes a study's numbers: a commit that touches none of these (docs, the dashboard, the
# tests) cannot change them.
STUDY_CODE_PATHS = ("xqg_core/data", "xqg_core/models", "xqg_core/retrieval", "xqg_core/study", "xqg_core/pipeline",
                    "configs", "requirements.txt")


def commits_since(commit: str, paths: tuple[str, ...] = STUDY_CODE_PATHS) -> int | None:
    """How many commits past ``commit`` the checkout's HEAD has changed ``paths`` (None: not
    known here)."""
    try:
        out = subprocess.run(["git", "rev-list", "--count", f"{commit.split('+')[0]}..HEAD", "--", *paths],
                             cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return int(out.stdout.strip()) if out.returncode == 0 and out.stdout.strip().isdigit() else None


def docids_sha1(docids: list[str]) -> str:
    return hashlib.sha1("\n".join(docids).encode("utf-8")).hexdigest()


def unsupported_languages(cfg) -> dict[str, dict[str, list[str]]]:
    """Per PLM and benchmark, the query languages the PLM was not trained on (the app marks them)."""
    from xqg_core.models.encoders import supported_languages

    langs = {"xquad-xr": cfg.xquad_xr.langs if cfg.xquad_xr else (), "pawsx-adv": cfg.pawsx_adv.langs if cfg.pawsx_adv else (),
             "xor-retrieve": (cfg.xor_retrieve.langs or ()) if cfg.xor_retrieve else ()}
    out = {}
    for plm in cfg.encoders:
        supported = supported_languages(plm)
        missing = {b: [lang for lang in ls if supported is not None and lang not in supported] for b, ls in langs.items()}
        if any(missing.values()):
            out[plm] = {b: ls for b, ls in missing.items() if ls}
    return out


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

    def splits(self):
        """``splits.parquet``: every xquad-xr cell on the dev and test halves (None before Study v3)."""
        import pandas as pd

        path = self.path("splits.parquet")
        return pd.read_parquet(path) if path.is_file() else None

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


def check_manifest_shape(manifest: dict, path: Path) -> None:
    """Every field the pages read, with its type; the config must be a valid study config."""
    from xqg_core.config import dataclass_from_dict
    from xqg_core.errors import DataFormatError
    from xqg_core.study.config import PrecomputeConfig

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


def check_manifest_agrees(root: Path, manifest: dict) -> None:
    """The manifest's grid (alphas, n_max, encoders, UMAP alphas) against what the files hold,
    read from their headers and a few columns: a manifest edited with its files' checksums kept
    gets the rebuild page, not a page that indexes past an array."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    cfg, files = manifest["config"], manifest["files"]
    grid = (len(cfg["alphas"]), int(cfg["n_max"]))

    def bad(problem: str):
        raise ArtifactError(f"{root / 'manifest.json'}: {problem}; {REBUILD_HINT}")

    for rel in (r for r in files if r.startswith("outcomes/") and r.endswith(".parquet")):
        shapes = pq.read_table(root / rel, columns=["key", "shape"]).to_pydict()
        for key, shape in zip(shapes["key"], shapes["shape"]):
            # xQG's outcome arrays [alpha, n, query] span the whole grid (a control's or an ablation's may not)
            if "/" not in key and len(shape) == 3 and tuple(shape[:2]) != grid:
                bad(f"{rel} holds {key!r} over {shape[0]} alphas x n = 1..{shape[1]}, the config "
                    f"{grid[0]} alphas x n = 1..{grid[1]}")
    benchmarks = {rel.split("/")[1] for rel in files if rel.startswith("outcomes/")}
    for plm in cfg["encoders"]:
        missing = [b for b in sorted(benchmarks) if not any(r.startswith(f"outcomes/{b}/{slug(plm)}.") for r in files)]
        if missing:
            bad(f"config.encoders names {plm!r}, which has no outcomes for {', '.join(missing)}")
    umap = cfg.get("umap")
    if "umap.parquet" in files and isinstance(umap, dict):
        points = pq.read_table(root / "umap.parquet", columns=["kind", "alpha"])
        stored = sorted(set(points.filter(pc.equal(points["kind"], "augmented"))["alpha"].to_pylist()))
        wanted = sorted(float(a) for a in umap.get("alphas") or [])
        if len(wanted) != len(stored) or not np.allclose(wanted, stored):
            bad(f"config.umap.alphas {umap.get('alphas')} are not the projection's {stored}")


def load_artifacts(root: str | Path | None = None, verify: bool = True, read_content: bool = False) -> Artifacts:
    """Read and check ``manifest.json``: schema version, every file present with its checksum
    (``read_content``: every byte hashed again, not the checksum cache's entry; the dashboard
    does this once per server process)."""
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
            if path.stat().st_size != info["bytes"] or file_sha1(path, cached=not read_content) != info["sha1"]:
                raise ArtifactError(f"{path}: checksum differs from the manifest (changed or truncated); "
                                    f"{REBUILD_HINT}")
        check_manifest_agrees(root, manifest)
    return Artifacts(root, manifest)


def artifact_config(arts: Artifacts):
    """The manifest's config as a :class:`~xqg_core.study.config.PrecomputeConfig`."""
    from xqg_core.config import dataclass_from_dict
    from xqg_core.study.config import PrecomputeConfig

    return dataclass_from_dict(PrecomputeConfig, arts.manifest["config"], arts.path("manifest.json"), "config")


def resolve_study(arts: Artifacts, data_dir: str | Path | None = None):
    """The corpora and queries with their texts, and the live-search examples.

    From the shipped ``texts/`` (:mod:`xqg_core.study.texts`) when the artifacts hold them: no data
    directory needed. Otherwise rebuilt from the data directory, whose files must be those
    the artifacts were built from (checksums in the manifest), with the same docids in the
    same order.
    """
    from xqg_core.paths import resolve_data_dir
    from xqg_core.study.inputs import build_study_inputs, data_files
    from xqg_core.study.texts import TEXTS_DIR, live_examples, read_study_texts

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
