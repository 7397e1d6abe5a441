"""Checksums of files and of stage inputs: what decides that a result still belongs to its inputs.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from xqg_core.io import write_json_atomic


def file_sha1(path: str | Path, chunk: int = 1 << 20, cached: bool = True) -> str:
    """SHA-1 of a file's bytes, remembered by (path, size, mtime, inode); ``cached=False``
    reads the bytes whatever the cache says (a file rewritten in place with its mtime put
    back keeps all four).

    A data file of the paper's setting is 13 GB: every shard job of a cluster run would
    re-read it to fingerprint its inputs. The digest is kept in the cache directory, one
    small JSON per file (so concurrent jobs never lose each other's entries), and used while
    the file's path, size, modification time (ns) and inode are those it was computed for;
    any rewrite (atomic writes replace the inode) computes it again."""
    from xqg_core.paths import cache_dir

    resolved = Path(path).resolve()
    stat = resolved.stat()
    key = {"path": str(resolved), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "inode": stat.st_ino}
    entry = cache_dir() / "checksums" / f"{hashlib.sha1(str(resolved).encode('utf-8')).hexdigest()}.json"
    try:
        known = json.loads(entry.read_text(encoding="utf-8"))
        if cached and {k: known.get(k) for k in key} == key and isinstance(known.get("sha1"), str):
            return known["sha1"]
    except (OSError, ValueError):
        pass  # no entry yet, or an unreadable one: compute
    digest = hashlib.sha1()
    with open(resolved, "rb") as fh:
        for block in iter(lambda: fh.read(chunk), b""):
            digest.update(block)
    try:
        write_json_atomic(entry, {**key, "sha1": digest.hexdigest()}, indent=None)
    except OSError:
        pass  # a read-only cache only costs the next caller a re-read
    return digest.hexdigest()


def fingerprint(inputs: dict[str, Any]) -> str:
    """SHA-1 of a JSON-serialisable description of a stage's inputs (key order ignored)."""
    return hashlib.sha1(json.dumps(inputs, sort_keys=True, ensure_ascii=False, default=str).encode("utf-8")).hexdigest()
