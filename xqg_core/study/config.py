"""A study's configuration (``configs/*.yaml``): which benchmarks, encoders, generator and grid.

Every setting is checked when the config is built, before any stage runs.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from xqg_core.config import load_yaml_config
from xqg_core.data.benchmarks import PAWSX_ADV_LANGS, XQUAD_XR_LANGS
from xqg_core.paths import PROJECT_ROOT, cache_dir

DEFAULT_ALPHAS = tuple(round(0.0025 * i, 4) for i in range(21)) + tuple(round(0.01 * i, 2) for i in range(6, 21))


# Every numeric setting's range, in one place: (minimum, maximum), None for no bound; a
# setting left null (None) is not checked. Checked when a config is built, before any stage.
SETTING_RANGES: dict[str, tuple[float | None, float | None]] = {
    "n_max": (1, None), "num_shards": (1, None), "top_k": (1, None), "shard_size": (1, None),
    "encode_chunk": (1, None), "grid_shard_passages": (1, None), "significance_resamples": (0, None),
    "generation_batch_size": (1, None),
    "xquad_xr.distractors": (0, None), "xquad_xr.max_paragraphs": (1, None), "xquad_xr.max_words": (1, None),
    "pawsx_adv.max_rows": (1, None), "xor_retrieve.max_queries": (1, None),
    "umap.passages": (3, None), "umap.n": (1, None), "umap.queries_per_passage": (0, None),
    "umap.query_passages": (0, None), "umap.neighbors": (2, None),
}
# Lists that must name at least one item (a section left out is not checked).
NONEMPTY_LISTS = ("encoders", "generation_langs", "alphas", "xquad_xr.langs", "pawsx_adv.langs", "umap.alphas")


def setting(cfg, name: str):
    """The value of ``name`` (``section.field``), or None when the section is left out."""
    obj = cfg
    for part in name.split("."):
        obj = getattr(obj, part, None) if obj is not None else None
    return obj


def check_alphas(name: str, alphas, baseline: bool) -> None:
    if not all(isinstance(a, (int, float)) and math.isfinite(a) and 0.0 <= a <= 1.0 for a in alphas):
        raise ValueError(f"{name} must be numbers in [0, 1], not {list(alphas)}")
    if baseline and (not alphas or alphas[0] != 0.0):
        raise ValueError(f"{name} must start at 0 (the baseline every cell is compared with)")
    if sorted(alphas) != list(alphas) or len(set(alphas)) != len(alphas):
        raise ValueError(f"{name} must be increasing and distinct")


def check_ranges(cfg: "PrecomputeConfig") -> None:
    """Every setting of :data:`SETTING_RANGES` and :data:`NONEMPTY_LISTS`, and the settings that
    depend on each other; the first violation is raised, naming the setting."""
    for name, (low, high) in SETTING_RANGES.items():
        value = setting(cfg, name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError(f"{name} must be a number, not {value!r}")
        if (low is not None and value < low) or (high is not None and value > high):
            bound = f"at least {low}" if high is None else f"between {low} and {high}"
            raise ValueError(f"{name} must be {bound}, not {value!r}")
    for name in NONEMPTY_LISTS:
        section = name.split(".")[0]
        if "." in name and getattr(cfg, section) is None:
            continue
        if not setting(cfg, name):
            raise ValueError(f"{name}: name at least one")
    if not cfg.continuity_tolerance > 0:
        raise ValueError("continuity_tolerance must be positive")
    if cfg.umap is not None:
        check_alphas("umap.alphas", cfg.umap.alphas, baseline=False)
        if cfg.umap.n > cfg.n_max:
            raise ValueError(f"umap.n ({cfg.umap.n}) must not exceed n_max ({cfg.n_max})")
        if cfg.umap.neighbors >= cfg.umap.passages:
            raise ValueError(f"umap.neighbors ({cfg.umap.neighbors}) must be below umap.passages ({cfg.umap.passages})")
    cfg._check_names()


@dataclass
class XquadXrSection:
    langs: tuple[str, ...] = XQUAD_XR_LANGS
    distractors: int | str | None = "all"  # Vital Articles passages: the first k, or all (~12,300; also null)
    max_paragraphs: int | None = None  # first k XQuAD paragraphs (small configs)
    max_words: int = 100

    def __post_init__(self) -> None:
        if self.distractors == "all":
            self.distractors = None
        if isinstance(self.distractors, str):
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
    # artifact, :func:`xqg_core.study.grid.continuity_jumps`); a miniature with a few queries per
    # language needs a coarser bound, as one query moves its language by 100 / count points
    continuity_tolerance: float = 1.0
    device: str | None = None
    export_generated_queries: bool = True  # generated_queries.parquet (off for the 18M-passage corpus)
    # a study directory whose generated queries are taken instead of generating them again, once its
    # manifest shows the same generator and settings (:mod:`xqg_core.pipeline.reuse`); never a result
    reuse_generated: str | None = None
    xquad_xr: XquadXrSection | None = None
    pawsx_adv: PawsxAdvSection | None = None
    xor_retrieve: XorRetrieveSection | None = None
    umap: UmapSection | None = None
    description: str = ""

    def __post_init__(self) -> None:
        check_alphas("alphas", self.alphas, baseline=True)
        check_ranges(self)
        self._check_names()

    def _check_names(self) -> None:
        """Languages, encoders and the generator are checked here, before any stage writes."""
        from xqg_core.data.records import PAWSX_LANGS
        from xqg_core.models.encoders import ENCODERS
        from xqg_core.models.generate import LANGUAGE_NAMES

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
        """Passages per score product (:func:`xqg_core.retrieval.topk.passage_scores`), the same in the
        dense and the sharded grid, so both compute the same numbers; grid shards are whole tiles."""
        from xqg_core.retrieval.topk import SCORE_TILE

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
