"""Errors that carry enough context to fix the input: file, line and field."""
from __future__ import annotations

from pathlib import Path


class XqgError(Exception):
    """Base class for errors the CLI reports as one clear line (no traceback)."""


class DataFormatError(XqgError):
    """Malformed input: names the file, the 1-based line (or record) and the field."""

    def __init__(self, path: str | Path, line: int | None, field: str | None, problem: str):
        self.path = str(path)
        self.line = line
        self.field = field
        self.problem = problem
        where = self.path
        if line is not None:
            where += f", line {line}"
        if field is not None:
            where += f", field '{one_line(field)}'"
        super().__init__(f"{where}: {one_line(problem)}")


def one_line(text: str) -> str:
    """``text`` with line breaks and other control characters escaped: an error is one line
    even when it quotes a name or value from a hostile file."""
    return "".join(c if c.isprintable() or c == " " else c.encode("unicode_escape").decode("ascii") for c in text)


class MissingResourceError(XqgError):
    """A dataset, model or artifact that is needed is not on this machine."""


class OfflineError(XqgError):
    """A download was asked for but the network (or the hub) cannot be reached."""
