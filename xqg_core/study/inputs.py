"""A study's inputs built from the official files: corpora, queries, PAWS-X pairs (no model involved).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Sequence

from xqg_core.data.loaders import load_corpus, load_xor_queries
from xqg_core.data.records import Passage, iter_jsonl
from xqg_core.errors import MissingResourceError
from xqg_core.io import write_text_atomic
from xqg_core.study.config import PrecomputeConfig
from xqg_core.study.sharded_grid import LazyTexts


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


def data_files(cfg: PrecomputeConfig, data_dir: Path) -> dict[str, Path]:
    """Every file the benchmarks read (their checksums go into the fingerprints and the manifest)."""
    from xqg_core.data.loaders import vital_articles_path

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
    from xqg_core.data.benchmarks import build_pawsx_adv, build_xquad_xr
    from xqg_core.data.loaders import load_pawsx

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
