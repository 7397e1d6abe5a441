"""Atomic writes: a reader never sees a half-written file, a crash leaves the old one."""
from __future__ import annotations

import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import numpy as np

MAX_FILE_BYTES = 50_000_000  # any one file the repository ships (a study's, the generator's weights)


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path in the target's directory; rename it over ``path`` on success."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, 0o644)  # mkstemp creates 0600; the result is an ordinary file
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json_atomic(path: str | os.PathLike, obj: Any, indent: int | None = 2) -> None:
    write_text_atomic(path, json.dumps(obj, ensure_ascii=False, indent=indent) + "\n")


def save_npy_atomic(path: str | os.PathLike, array: np.ndarray) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.save(fh, array, allow_pickle=False)


ARRAY_COLUMNS = ("key", "dtype", "shape", "data")
ARRAY_DTYPES = {"int8", "uint8", "int16", "int32", "int64", "float16", "float32", "float64", "bool"}


def save_arrays_parquet(path: str | os.PathLike, arrays: dict[str, np.ndarray]) -> None:
    """Named arrays as one zstd-compressed parquet table, a row per array (``key, dtype, shape,
    data`` = the C-order bytes): per-query outcomes, mostly 0/1, shrink ~20x against
    safetensors; no pickle."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    arrays = {k: np.ascontiguousarray(v) for k, v in arrays.items()}
    table = pa.table({"key": list(arrays), "dtype": [str(v.dtype) for v in arrays.values()],
                      "shape": [list(v.shape) for v in arrays.values()],
                      "data": pa.array([v.tobytes() for v in arrays.values()], type=pa.large_binary())})
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, compression="zstd", compression_level=9)


def load_arrays_parquet(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """The arrays :func:`save_arrays_parquet` wrote; a file of another shape is a ValueError naming it."""
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    if table.column_names != list(ARRAY_COLUMNS):
        raise ValueError(f"{path}: columns {table.column_names}, expected {list(ARRAY_COLUMNS)}")
    out = {}
    for key, dtype, shape, data in zip(*(table.column(c).to_pylist() for c in ARRAY_COLUMNS)):
        if dtype not in ARRAY_DTYPES or any(d < 0 for d in shape) or len(data) != np.dtype(dtype).itemsize * int(np.prod(shape)):
            raise ValueError(f"{path}: array {key!r} ({dtype}, shape {shape}) does not match its {len(data)} bytes")
        out[key] = np.frombuffer(data, dtype=dtype).reshape(shape)
    return out


def over_size_budget(sizes: dict[str, int], max_file: int, max_total: int, what: str) -> str | None:
    """Why ``sizes`` (file -> bytes) breaks a budget of ``max_file`` bytes a file and ``max_total``
    in all, naming the largest file over it; None when it holds. MB are 10^6 bytes."""
    too_big = sorted((size, name) for name, size in sizes.items() if size > max_file)
    if too_big:
        size, name = too_big[-1]
        return f"{name} is {size / 1e6:.4g} MB, over the {max_file / 1e6:g} MB limit per file of {what}"
    total = sum(sizes.values())
    if total > max_total:
        return f"{what} total {total / 1e6:.4g} MB, over the {max_total / 1e6:g} MB limit"
    return None
