"""The embedded default study's two benchmarks, built from the official files.

``xquad-xr`` (cross-lingual passage retrieval): XQuAD questions in ar, de, es, hi, ru, vi,
zh against the 240 English XQuAD paragraphs cut into <= 100-word passages plus English
Wikipedia distractor passages (Vital Articles); each question's answers are its English
XQuAD answers and its gold passages those of its paragraph that hold the answer.

``pawsx-adv`` (adversarial robustness): for each labelled PAWS-X row and language L, the
query is sentence1 in L; the pool is the DISTINCT English sentences of the split (PAWS
reuses source sentences across rows: a copy of the gold is the gold, never a
distractor); the gold is English sentence1 of the row and its twin English sentence2.
On label-0 rows the twin is a word-swapped sentence with another meaning (the
adversarial pairs: the headline metrics); on label-1 rows it is a paraphrase.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from xqg_core.data.loaders import load_pawsx, load_squad, load_vital_articles, split_into_passages
from xqg_core.data.records import Passage

XQUAD_XR_LANGS = ("ar", "de", "es", "hi", "ru", "vi", "zh")


PAWSX_ADV_LANGS = ("de", "es", "fr", "ja", "ko", "zh")


@dataclass(frozen=True)
class RetrievalQuery:
    id: str  # "{question id}-{lang}"
    lang: str
    text: str
    answers: tuple[str, ...]  # English answers (R@kt)
    gold: tuple[str, ...]  # gold passage docids (hit rate, recall, MRR)


@dataclass
class RetrievalBenchmark:
    name: str
    passages: list[Passage]
    queries: list[RetrievalQuery]


def build_xquad_xr(data_dir: str | Path, langs: tuple[str, ...] = XQUAD_XR_LANGS, distractors: int | None = None,
                   max_words: int = 100, max_paragraphs: int | None = None) -> RetrievalBenchmark:
    """The xquad-xr benchmark; ``distractors`` = how many Vital Articles passages (None: all);
    ``max_paragraphs`` keeps the first k XQuAD paragraphs and their questions (small configs)."""
    root = Path(data_dir) / "xquad"
    english = load_squad(root / "xquad.en.json", "en")
    if max_paragraphs is not None:
        kept = set(list(dict.fromkeys(q.paragraph_id for q in english))[:max_paragraphs])
        english = [q for q in english if q.paragraph_id in kept]
    by_paragraph: dict[str, list[Passage]] = {}
    for q in english:
        if q.paragraph_id not in by_paragraph:
            by_paragraph[q.paragraph_id] = split_into_passages(f"xquad-{q.paragraph_id}", q.title, q.context, max_words)
    gold: dict[str, tuple[str, ...]] = {}
    for q in english:
        parts = by_paragraph[q.paragraph_id]
        holding = tuple(p.docid for p in parts if any(a in p.text for a in q.answers))
        gold[q.id] = holding or tuple(p.docid for p in parts)  # an answer cut by the 100-word split
    passages = [p for parts in by_paragraph.values() for p in parts]
    vital = load_vital_articles(max_words=max_words)
    passages, alias = distinct_passages(passages + (vital if distractors is None else vital[:distractors]))
    gold = {qid: tuple(dict.fromkeys(alias.get(d, d) for d in docids)) for qid, docids in gold.items()}
    answers = {q.id: q.answers for q in english}
    queries = [RetrievalQuery(f"{q.id}-{lang}", lang, q.question, answers[q.id], gold[q.id])
               for lang in langs for q in load_squad(root / f"xquad.{lang}.json", lang) if q.id in answers]
    return RetrievalBenchmark("xquad-xr", passages, queries)


def distinct_passages(passages: list[Passage]) -> tuple[list[Passage], dict[str, str]]:
    """The passages with a later copy of an earlier one's encoded text (``title + " " + text``)
    left out, and ``{left-out docid: kept docid}``: two copies would tie in every ranking and
    each would get its own generated queries, so augmentation would break the tie."""
    kept: dict[str, Passage] = {}
    alias: dict[str, str] = {}
    for p in passages:
        first = kept.setdefault(p.contents, p)
        if first is not p:
            alias[p.docid] = first.docid
    return list(kept.values()), alias


@dataclass(frozen=True)
class PawsxItem:
    row: int
    lang: str
    query: str  # sentence1 in ``lang``
    gold: int  # index of English sentence1 in the pool
    twin: int  # index of English sentence2 in the pool
    label: int  # 1: the twin is a paraphrase (either counts); 0: the twin is adversarial


@dataclass
class PawsxAdversarial:
    pool: list[str]  # the distinct English sentences of the rows used
    pool_ids: list[str]  # "{split}-{row}-s{1|2}": where each pool sentence first occurs
    items: list[PawsxItem]
    identical_rows: int = 0  # labelled rows left out because sentence1 == sentence2 in English


def build_pawsx_adv(data_dir: str | Path, split: str = "test", langs: tuple[str, ...] = PAWSX_ADV_LANGS,
                    max_rows: int | None = None) -> PawsxAdversarial:
    """Rows without a known label, with a missing (NS) sentence or whose two English
    sentences are identical are left out; ``max_rows`` keeps the first k usable rows
    (small configs). The pool holds each distinct English sentence once (exact text as
    loaded); items point at it."""
    english = load_pawsx(data_dir, split, "en")
    pool: list[str] = []
    pool_ids: list[str] = []
    position: dict[str, int] = {}
    index: dict[int, tuple[int, int, int]] = {}
    identical = 0

    def pooled(sentence: str, row: int, side: int) -> int:
        if sentence not in position:
            position[sentence] = len(pool)
            pool.append(sentence)
            pool_ids.append(f"{split}-{row}-s{side}")
        return position[sentence]

    for pair in english:
        if pair.label is None or pair.sentence1 is None or pair.sentence2 is None:
            continue
        if max_rows is not None and len(index) == max_rows:
            break
        if pair.sentence1 == pair.sentence2:
            identical += 1
            continue
        index[pair.row] = (pooled(pair.sentence1, pair.row, 1), pooled(pair.sentence2, pair.row, 2), pair.label)
    items = []
    for lang in langs:
        for pair in load_pawsx(data_dir, split, lang):
            if pair.row in index and pair.sentence1 is not None:
                g, t, label = index[pair.row]
                items.append(PawsxItem(pair.row, lang, pair.sentence1, g, t, label))
    return PawsxAdversarial(pool, pool_ids, items, identical)
