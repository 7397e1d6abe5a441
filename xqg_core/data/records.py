"""Typed records of the datasets and the readers every loader shares.

Every reader validates what it reads and raises :class:`~xqg_core.errors.DataFormatError`
naming the file, the 1-based line (or record path) and the field on malformed input.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from xqg_core.errors import DataFormatError, MissingResourceError

PAWSX_LANGS = ("de", "en", "es", "fr", "ja", "ko", "zh")


PAWSX_MISSING = "NS"  # PAWS-X marks untranslatable sentences with the literal text NS


@dataclass(frozen=True)
class XorQuery:
    """An XOR-Retrieve question with its English answer strings."""

    id: str
    question: str
    answers: tuple[str, ...]
    lang: str
    split: str | None = None


@dataclass(frozen=True)
class Passage:
    """A retrieval unit: ``title`` + ``text`` (Tevatron / DPR w100 style)."""

    docid: str
    title: str
    text: str

    @property
    def contents(self) -> str:
        """The encoder input, as in the paper: title + " " + text."""
        return f"{self.title} {self.text}".strip()


@dataclass(frozen=True)
class GeneratedQueries:
    """A passage with its released generated queries (``ielab/xor-tydi-xqg-augmented`` form)."""

    docid: str
    text: str
    queries: dict[str, tuple[str, ...]]


@dataclass(frozen=True)
class PawsxPair:
    """One PAWS-X row. ``None`` sentences were untranslatable (``NS``); ``None`` label = unknown."""

    row: int  # 1-based row in the split, the same pair in every language
    lang: str
    sentence1: str | None
    sentence2: str | None
    label: int | None
    pair_id: str | None = None


@dataclass(frozen=True)
class SquadQuestion:
    """A SQuAD-format question (XQuAD, MLQA, TyDi GoldP) with its paragraph."""

    id: str
    question: str
    answers: tuple[str, ...]
    answer_starts: tuple[int, ...]
    title: str
    context: str
    paragraph_id: str  # "<article index>-<paragraph index>", stable across parallel files
    lang: str


def _require(obj: dict, key: str, kind: type | tuple[type, ...], path: Path, line: int | None, where: str = "") -> Any:
    name = f"{where}{key}"
    if key not in obj:
        raise DataFormatError(path, line, name, "missing")
    value = obj[key]
    if not isinstance(value, kind):
        expected = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise DataFormatError(path, line, name, f"expected {expected}, got {type(value).__name__}")
    return value


def _open_text(path: Path):
    if not path.is_file():
        raise MissingResourceError(f"{path}: file not found")
    return open(path, encoding="utf-8-sig", newline="")


def read_text(path: str | Path) -> str:
    """A whole UTF-8 file (a leading byte-order mark dropped); bytes that are not UTF-8 are
    a one-line error naming the line."""
    path = Path(path)
    if not path.is_file():
        raise MissingResourceError(f"{path}: file not found")
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataFormatError(path, data[: exc.start].count(b"\n") + 1, None,
                              f"not UTF-8 text (byte 0x{data[exc.start]:02x})") from None


def parse_json(path: Path, text: str, line: int | None = None) -> Any:
    """``json.loads`` with one-line errors: invalid JSON, nesting deeper than Python's stack, or a
    number too long to convert."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        where = line if line is not None else exc.lineno
        raise DataFormatError(path, where, None, f"invalid JSON ({exc.msg} at column {exc.colno})") from None
    except RecursionError:
        raise DataFormatError(path, line, None, "JSON nested too deeply") from None
    except ValueError as exc:  # an integer past Python's 4,300-digit conversion limit
        raise DataFormatError(path, line, None, f"a number too long to read ({' '.join(str(exc).split()[:8])})") from None


def iter_jsonl(path: str | Path) -> Iterator[tuple[int, dict]]:
    """Yield (1-based line number, object) for each non-blank line of a JSON-lines file."""
    path = Path(path)
    if not path.is_file():
        raise MissingResourceError(f"{path}: file not found")
    with open(path, "rb") as fh:
        for lineno, raw in enumerate(fh, start=1):
            try:
                line = raw.decode("utf-8-sig" if lineno == 1 else "utf-8")
            except UnicodeDecodeError as exc:
                raise DataFormatError(path, lineno, None, f"not UTF-8 text (byte 0x{raw[exc.start]:02x})") from None
            if not line.strip():
                continue
            obj = parse_json(path, line, lineno)
            if not isinstance(obj, dict):
                raise DataFormatError(path, lineno, None, f"expected a JSON object, got {type(obj).__name__}")
            yield lineno, obj


def _load_json(path: Path) -> Any:
    return parse_json(path, read_text(path))
