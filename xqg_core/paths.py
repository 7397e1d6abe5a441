"""Where data, caches and artifacts live.

Data directory: ``--data-dir`` > env ``XQG_DATA_DIR`` > ``../shared/data`` (next to the
project) when present. Cache (converted weights, tokenizer files): env ``XQG_CACHE`` >
the platform's user cache dir.
"""
from __future__ import annotations

import os
from pathlib import Path

import platformdirs

from xqg_core.errors import MissingResourceError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS_DIR = PROJECT_ROOT / "cached_artifacts"
SHIPPED_GENERATOR_DIR = ARTIFACTS_DIR / "generator"  # me5-qg weights in float16, written by train-generator --ship
SIBLING_SHARED_DATA = PROJECT_ROOT.parent / "shared" / "data"


def resolve_data_dir(explicit: str | os.PathLike | None = None, *, required: bool = True) -> Path | None:
    """The data directory to read official dataset files from."""
    if explicit:
        source, path = "--data-dir", Path(explicit)
    elif os.environ.get("XQG_DATA_DIR"):
        source, path = "XQG_DATA_DIR", Path(os.environ["XQG_DATA_DIR"])
    else:
        source, path = "default", SIBLING_SHARED_DATA
    if path.is_dir():
        return path.resolve()
    if not required:
        return None
    hint = (
        "set XQG_DATA_DIR=DIR (the dashboard: `XQG_DATA_DIR=DIR streamlit run app.py`) or pass --data-dir DIR "
        "(the command line) to a directory holding the official files, or fetch them with "
        "`python -m xqg_core data download NAME --to DIR`"
    )
    raise MissingResourceError(f"data directory not found ({source}: {path}); {hint}")


def cache_dir() -> Path:
    """The cache for converted weights and tokenizers (env XQG_CACHE overrides)."""
    root = os.environ.get("XQG_CACHE") or platformdirs.user_cache_dir("xqg-explorer")
    path = Path(root)
    path.mkdir(parents=True, exist_ok=True)
    return path


def default_generator_dir() -> Path:
    """The me5-qg weights to use: those shipped in ``cached_artifacts/generator/``, else the
    ones ``train-generator`` wrote to the cache dir."""
    if (SHIPPED_GENERATOR_DIR / "model.safetensors").is_file():
        return SHIPPED_GENERATOR_DIR
    return cache_dir() / "me5-qg"


def slug(name: str) -> str:
    """A file-name-safe form of an encoder name (a local path becomes its last part + a hash)."""
    import hashlib
    import re

    if re.fullmatch(r"[A-Za-z0-9._-]+", name):
        return name
    tail = re.sub(r"[^A-Za-z0-9._-]+", "_", name.rstrip("/").rsplit("/", 1)[-1])[:40]
    return f"{tail}-{hashlib.sha1(name.encode('utf-8')).hexdigest()[:8]}"
