"""YAML configs read into dataclasses, with errors that name the file and the setting."""
from __future__ import annotations

import dataclasses
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

import yaml

from xqg_core.errors import DataFormatError

T = TypeVar("T")


def _typed(value: Any, annotation: Any, path: Path, name: str) -> Any:
    """``value`` checked against a field's annotation (int, float, str, bool, tuples, dicts,
    ``X | None``, nested dataclasses) and converted where YAML's form differs (a list for a
    tuple, an int for a float); anything else is a one-line error naming the field."""
    def fail(expected: str):
        shown = repr(value) if len(repr(value)) <= 40 else type(value).__name__
        raise DataFormatError(path, None, name, f"expected {expected}, got {shown}")

    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if isinstance(annotation, types.UnionType) or origin is typing.Union:
        if value is None and type(None) in args:
            return None
        options = [a for a in args if a is not type(None)]
        if len(options) == 1:
            return _typed(value, options[0], path, name)
        return value
    if dataclasses.is_dataclass(annotation):
        return dataclass_from_dict(annotation, value, path, name)
    if annotation is bool:
        return value if isinstance(value, bool) else fail("true or false")
    if annotation is int:
        return value if isinstance(value, int) and not isinstance(value, bool) else fail("an integer")
    if annotation is float:
        return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else fail("a number")
    if annotation is str:
        return value if isinstance(value, str) else fail("a string")
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            fail("a list")
        item = args[0] if args else Any
        return tuple(_typed(v, item, path, f"{name}[{i}]") for i, v in enumerate(value))
    if origin is dict:
        if not isinstance(value, dict):
            fail("a mapping")
        key_type, item = args if args else (Any, Any)
        return {_typed(k, key_type, path, name): _typed(v, item, path, f"{name}.{k}") for k, v in value.items()}
    return value


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
    values = {key: _typed(value, hints[key], path, f"{where}.{key}" if where else key) for key, value in raw.items()}
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
        raw = yaml.safe_load(path.read_text(encoding="utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise DataFormatError(path, None, None, f"not UTF-8 text (byte {exc.start})") from None
    except RecursionError:
        raise DataFormatError(path, None, None, "nested too deeply") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise DataFormatError(path, mark.line + 1 if mark else None, None, f"invalid YAML ({' '.join(str(exc).split())})") from None
    if raw is None:
        raise DataFormatError(path, None, None, "the config is empty")
    return dataclass_from_dict(cls, raw, path)
