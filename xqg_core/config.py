"""YAML configs read into dataclasses, with errors that name the file and the setting."""
from __future__ import annotations

import dataclasses
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

import yaml

from .errors import DataFormatError

T = TypeVar("T")


def _field_class(annotation: Any) -> type | None:
    """The dataclass inside ``X`` or ``X | None``, if any."""
    candidates = typing.get_args(annotation) if isinstance(annotation, types.UnionType) else (annotation,)
    for c in candidates:
        if dataclasses.is_dataclass(c):
            return c
    return None


def dataclass_from_dict(cls: type[T], raw: Any, path: Path, where: str = "") -> T:
    """Build ``cls`` from a mapping: unknown keys are errors, nested dataclasses and tuples are built too."""
    if not isinstance(raw, dict):
        raise DataFormatError(path, None, where or None, "expected a mapping of settings")
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - known)
    if unknown:
        name = f"{where}.{unknown[0]}" if where else unknown[0]
        raise DataFormatError(path, None, name, f"unknown setting; known: {', '.join(sorted(known))}")
    values = {}
    for key, value in raw.items():
        name = f"{where}.{key}" if where else key
        nested = _field_class(hints[key])
        if nested is not None and value is not None:
            value = dataclass_from_dict(nested, value, path, name)
        elif isinstance(value, list):
            value = tuple(value)
        values[key] = value
    try:
        return cls(**values)
    except (TypeError, ValueError) as exc:
        raise DataFormatError(path, None, where or None, str(exc)) from None


def load_yaml_config(cls: type[T], path: str | Path) -> T:
    """Read a YAML file into the dataclass ``cls``."""
    path = Path(path)
    if not path.is_file():
        raise DataFormatError(path, None, None, "config file not found")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise DataFormatError(path, mark.line + 1 if mark else None, None, f"invalid YAML ({exc})") from None
    return dataclass_from_dict(cls, raw, path)
