"""The study's index (``index/{plm}*.safetensors``): P, S and Q of xquad-xr as int8 rows with
per-row scales, in levels (each level stores what the ones before it rounded away).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from xqg_core.paths import slug


def index_tensors(P: np.ndarray, S: np.ndarray, Q: np.ndarray) -> dict[str, np.ndarray]:
    """The index's first level (schema 4's file): ``P``, ``S - S.mean`` and ``Q`` as int8 rows with
    float32 per-row scales (``P.scale``, ...), ``S.mean`` [n_max, d] in float32 (the sums of 35 query
    vectors share a large common direction, norm ~20-30 against unit passages, that per-row
    scales would otherwise spend their steps on)."""
    tensors = {"S.mean": S.mean(axis=1).astype(np.float32)}
    for key, matrix in (("P", P), ("S", S - tensors["S.mean"][:, None, :]), ("Q", Q)):
        tensors[key], tensors[f"{key}.scale"] = quantize_rows(matrix)
    return tensors


# int8 levels per array: each level after the first stores, again as int8 rows with per-row
# scales, what the levels before it rounded away; k levels are 8k-bit fixed point per row.
# P and Q (the score's (1 - alpha) <q, p> term) take 3, S (weighted by alpha) 2: every
# off-grid cell of the default study then within 0.084 points of the float32 grid (both PLMs,
# benchmarks/index_precision.py), where 2 levels everywhere leave near-ties 3e-7 apart to swap
# (use-m-v3: 0.168) and the first level alone 0.67 (me5-small)
INDEX_LEVELS = {"P": 3, "S": 2, "Q": 3}


def residual_levels(P: np.ndarray, S: np.ndarray, Q: np.ndarray, first: dict[str, np.ndarray]) -> list[dict[str, np.ndarray]]:
    """Levels 2, 3, ... of the index (:data:`INDEX_LEVELS`) after ``first`` (:func:`index_tensors`): level
    k holds what levels 1..k-1 rounded away; after k levels each component is within
    ``max|row| / (127 * 254 ** (k - 1) * 2)`` of float32."""
    exact = {"P": P, "S": S - first["S.mean"][:, None, :], "Q": Q}
    read = {key: dequantize_rows(first[key], first[f"{key}.scale"]) for key in exact}
    levels = []
    for level in range(2, max(INDEX_LEVELS.values()) + 1):
        tensors = {}
        for key in (k for k in exact if INDEX_LEVELS[k] >= level):
            tensors[key], tensors[f"{key}.scale"] = quantize_rows(np.asarray(exact[key], dtype=np.float32) - read[key])
            read[key] = read[key] + dequantize_rows(tensors[key], tensors[f"{key}.scale"])
        levels.append(tensors)
    return levels


def write_index(dest: Path, plm: str, P: np.ndarray, S: np.ndarray, Q: np.ndarray,
                first: dict[str, np.ndarray] | None = None) -> list[Path]:
    """``dest/{plm}.safetensors`` (the first level, :func:`index_tensors`; not written when ``first``,
    a study's existing one, is given) and ``dest/{plm}.level{k}.safetensors`` for k = 2, 3, ...
    (:func:`residual_levels`). Files of int8 rows rather than one of wider integers: each stays
    under the 50 MB limit at 12.7k passages, and a study of schema 4 keeps its file."""
    from safetensors.numpy import save_file

    dest.mkdir(parents=True, exist_ok=True)
    paths = []
    if first is None:
        first = index_tensors(P, S, Q)
        paths.append(dest / f"{slug(plm)}.safetensors")
        save_file(first, str(paths[-1]))
    for level, tensors in enumerate(residual_levels(P, S, Q, first), start=2):
        paths.append(dest / f"{slug(plm)}.level{level}.safetensors")
        save_file(tensors, str(paths[-1]))
    return paths


def quantize_rows(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """int8 values and float32 scales per row (last axis): ``x ~ q * scale``, ``scale = max|row| / 127``;
    the error per component is at most ``scale / 2``."""
    x = np.asarray(x, dtype=np.float32)
    scale = np.abs(x).max(axis=-1) / 127.0
    scale = np.where(scale > 0, scale, 1.0).astype(np.float32)
    return np.clip(np.rint(x / scale[..., None]), -127, 127).astype(np.int8), scale


def dequantize_rows(q: np.ndarray, scale: np.ndarray) -> np.ndarray:
    return q.astype(np.float32) * scale[..., None].astype(np.float32)
