"""Study v3's uncertainty over a retrieval grid: for every cell, the bootstrap 95% interval of its
difference from a reference (alpha = 0, or xQG's same cell for a control), the minimum detectable
effect, Holm-adjusted p-values over a cell's languages; and the same on the dev / test halves.

The resampling weights are drawn once per (split, language) and shared by every cell, metric and
variant (common random numbers): intervals of neighbouring cells differ by their data, not by
their draws. Values are in points (outcomes x 100).
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from xqg_core.retrieval.uncertainty import (
    bootstrap_weights,
    holm_adjust,
    minimum_detectable_effect,
    percentile_intervals,
)
from xqg_core.study.grid import macro_groups, nan_mean

KEY = ("alpha", "n", "lang", "metric")


class Intervals:
    """Query subsets and their bootstrap weights for one benchmark's queries."""

    def __init__(self, langs: np.ndarray, supported: Sequence[str] | None, splits: dict[str, np.ndarray],
                 resamples: int, seed: int):
        self.langs = np.asarray(langs)
        self.lang_order = list(dict.fromkeys(self.langs.tolist()))
        self.groups = {lang: [lang] for lang in self.lang_order}
        self.groups |= {name: group for name, (group, _) in macro_groups(self.langs, self.lang_order, supported).items()}
        self.splits = {"all": np.ones(len(self.langs), bool), **splits}
        self.resamples, self.seed = resamples, seed
        self.index = {(s, lang): np.flatnonzero(mask & (self.langs == lang))
                      for s, mask in self.splits.items() for lang in self.lang_order}
        self.weights = {key: bootstrap_weights(len(idx), resamples, self._rng(key, len(idx)))
                        for key, idx in self.index.items()}

    def _rng(self, key: tuple[str, str], m: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, sum(map(ord, key[0])), sum(map(ord, key[1])), m])

    def group_mask(self, split: str, group: str) -> np.ndarray:
        return self.splits[split] & np.isin(self.langs, self.groups[group])

    def differences(self, ref: np.ndarray, cell: np.ndarray, split: str) -> dict[str, tuple[float, float, float]]:
        """``group -> (ci_low, ci_high, mde)`` of ``cell - ref`` on ``split`` (points)."""
        draws, diffs = {}, {}
        d = np.asarray(cell, np.float64) - np.asarray(ref, np.float64)
        for lang in self.lang_order:
            idx = self.index[(split, lang)]
            part = d[idx]
            weights = self.weights[(split, lang)]
            if np.isnan(part).any():  # a metric undefined for some queries: resample the defined ones
                part = part[~np.isnan(part)]
                weights = bootstrap_weights(len(part), self.resamples, self._rng((split, lang), len(part)))
            diffs[lang] = part
            draws[lang] = part.astype(np.float32) @ weights if len(part) else None
        out = {group: (np.nan, np.nan, np.nan) for group in self.groups}
        defined = [group for group, members in self.groups.items()
                   if members and all(draws[lang] is not None for lang in members)]
        if defined:
            bounds = percentile_intervals(np.stack([np.mean([draws[lang] for lang in self.groups[group]], axis=0)
                                                    for group in defined]))
            for (low, high), group in zip(bounds.T.tolist(), defined):
                out[group] = (100 * low, 100 * high,
                              100 * minimum_detectable_effect([diffs[lang] for lang in self.groups[group]]))
        return out


def add_intervals(rows: list[dict], alphas: Sequence[float], outcomes: dict[str, np.ndarray],
                  reference: Callable[[int, int], dict[str, np.ndarray]], intervals: Intervals,
                  prefix: str = "") -> None:
    """Into each summary row (split ``all``) of one variant: ``{prefix}ci_low``, ``{prefix}ci_high``
    and ``{prefix}mde`` of the cell's difference from ``reference(ai, n)`` (per-query outcomes of
    the reference cell); without a prefix also ``p_adj``, Holm over the languages of the cell and
    metric (the macro rows keep their raw p). ``outcomes``: metric -> [alphas, n_max, queries]."""
    stats = _cell_stats(alphas, outcomes, reference, intervals, "all")
    for row in rows:
        low, high, mde = stats.get(tuple(row[k] for k in KEY), (np.nan, np.nan, np.nan))
        row[f"{prefix}ci_low"], row[f"{prefix}ci_high"], row[f"{prefix}mde"] = low, high, mde
    if not prefix:
        _holm(rows, intervals.lang_order, "p_value", "p_adj")


def split_rows(alphas: Sequence[float], outcomes: dict[str, np.ndarray], reference: Callable,
               intervals: Intervals, significance: Callable[[np.ndarray, np.ndarray], float],
               common: dict, versus_xqg: Callable | None = None) -> list[dict]:
    """Rows of every cell on the dev and test halves: ``value`` on both; on test also ``p_value``
    (vs alpha = 0), ``p_adj``, ``ci_low``, ``ci_high``, ``mde`` and, for a control
    (``versus_xqg(ai, n)``: xQG's same cell), ``p_vs_xqg`` and its interval."""
    out = []
    alphas = list(alphas)
    n_max = next(iter(outcomes.values())).shape[1]
    for split in ("dev", "test"):
        stats = _cell_stats(alphas, outcomes, reference, intervals, split) if split == "test" else {}
        versus = (_cell_stats(alphas, outcomes, versus_xqg, intervals, split)
                  if split == "test" and versus_xqg else {})
        for ai, alpha in enumerate(alphas):
            for n in range(1, n_max + 1):
                cell = {m: v[ai, n - 1] for m, v in outcomes.items()}
                ref = reference(ai, n)
                xqg = versus_xqg(ai, n) if versus_xqg and split == "test" else None
                cell_rows = []
                for metric, values in cell.items():
                    per_lang = {lang: 100 * nan_mean(values[intervals.group_mask(split, lang)])
                                for lang in intervals.lang_order}
                    for group, members in intervals.groups.items():
                        mask = intervals.group_mask(split, group)
                        row = {**common, "split": split, "alpha": float(alpha), "n": n, "lang": group, "metric": metric,
                               "value": nan_mean([per_lang[lang] for lang in members]),
                               "num_queries": int(np.sum(~np.isnan(values[mask])))}
                        if split == "test":
                            row["p_value"] = 1.0 if alpha == 0 else significance(ref[metric][mask], values[mask])
                            row["ci_low"], row["ci_high"], row["mde"] = stats[(float(alpha), n, group, metric)]
                            if xqg is not None:
                                row["p_vs_xqg"] = 1.0 if alpha == 0 else significance(xqg[metric][mask], values[mask])
                                (row["vs_xqg_ci_low"], row["vs_xqg_ci_high"],
                                 row["vs_xqg_mde"]) = versus[(float(alpha), n, group, metric)]
                        cell_rows.append(row)
                if split == "test":
                    _holm(cell_rows, intervals.lang_order, "p_value", "p_adj")
                out += cell_rows
    return out


def _cell_stats(alphas, outcomes, reference, intervals: Intervals, split: str) -> dict[tuple, tuple]:
    n_max = next(iter(outcomes.values())).shape[1]
    stats = {}
    for ai, alpha in enumerate(alphas):
        for n in range(1, n_max + 1):
            ref = reference(ai, n)
            for metric, values in outcomes.items():
                if alpha == 0 and ref is not None and np.array_equal(ref[metric], values[ai, n - 1], equal_nan=True):
                    stats |= {(float(alpha), n, g, metric): (0.0, 0.0, np.nan) for g in intervals.groups}
                    continue
                for group, triple in intervals.differences(ref[metric], values[ai, n - 1], split).items():
                    stats[(float(alpha), n, group, metric)] = triple
    return stats


def _holm(rows: list[dict], langs: Sequence[str], p_key: str, out_key: str) -> None:
    """Holm over the language rows of each (alpha, n, metric); macro rows: their own p."""
    families: dict[tuple, list[dict]] = {}
    for row in rows:
        if row["lang"] in langs:
            families.setdefault((row["alpha"], row["n"], row["metric"]), []).append(row)
        else:
            row[out_key] = row.get(p_key, np.nan)
    for family in families.values():
        for row, p in zip(family, holm_adjust([r.get(p_key, np.nan) for r in family])):
            row[out_key] = float(p)


def selected_alpha(rows: Sequence[dict], variant: str, n: int, metric: str = "R@2kt", lang: str = "avg") -> float:
    """The alpha > 0 with the highest macro ``metric`` at ``n`` on the dev half (ties: the smallest
    alpha): what the study reports on the test half. Never chosen on the test questions."""
    candidates = [(r["value"], -r["alpha"]) for r in rows
                  if r.get("split") == "dev" and r.get("variant", "xqg") == variant and r["n"] == n
                  and r["metric"] == metric and r["lang"] == lang and r["alpha"] > 0 and np.isfinite(r["value"])]
    if not candidates:
        raise ValueError(f"no dev-half {metric} row of {variant} at n = {n} to select alpha from")
    return -max(candidates)[1]
