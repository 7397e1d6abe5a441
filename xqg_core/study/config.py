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
    # artifact, :func:`xqg_core.study.grid.continuity_jumps`); a miniature with a few queries per
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
