"""The whole precompute on this machine, stage by stage, and whether it reproduces the shipped study.

``--run DIR`` runs ``python -m xqg_core precompute`` on a copy of ``--config`` whose
``output_dir`` is ``DIR/out``, with a fresh cache ``DIR/cache`` (``XQG_CACHE``: the converted
me5-small, the me5-static table and the work directory are all built again), and
``--reuse-generated`` passed on when given. Without ``--run`` it reports on such a directory
after the fact (a run may span several processes: each stage's seconds are its own, in
``timings.jsonl``; a stage skipped as unchanged counts nothing).

The report: seconds per stage group, this run beside the reference study's manifest
(``stage_seconds``), their sums, the run's wall time (its start to the export's manifest), and
the files of the two studies compared by SHA-1: every file but the manifest, bit for bit. Where
files differ, what moved in the results (:func:`results_agreement`). ``--generation DIR``
adds generation timed from a fresh cache in a second run (``precompute --stage corpora``, then
``--stage generate``), for the from-scratch total of a run that reused its generated queries.

    python -m benchmarks.precompute_time --run build/timing [--reuse-generated cached_artifacts] [--write]
    python -m benchmarks.precompute_time --dir build/timing [--generation build/timing-gen] [--write]
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import numpy as np

from benchmarks.report import machine_line, publish
from xqg_core.paths import PROJECT_ROOT

GROUPS = (("corpora", r"corpora"), ("generate", r"generate-"), ("encode + index: me5-small", r"(encode|index)-me5-small-"),
          ("encode + index: use-m-v3", r"(encode|index)-use-m-v3-"),
          ("encode + index: me5-static (its table built first)", r"(encode|index)-me5-static-"),
          ("queries", r"queries-"), ("variants (copy-only, no-copy)", r"variants-"), ("grid", r"grid-"),
          ("umap", r"umap"))


def run_precompute(where: Path, config: Path, reuse: str | None) -> None:
    """The precompute into ``where/out`` from a fresh cache ``where/cache``; its start in ``where/started``."""
    import yaml

    where.mkdir(parents=True, exist_ok=True)
    cfg = yaml.safe_load(config.read_text(encoding="utf-8"))
    cfg["output_dir"] = str((where / "out").resolve())
    (where / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")
    (where / "started").write_text(time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()) + "\n")
    command = [sys.executable, "-m", "xqg_core", "precompute", "--config", str(where / "config.yaml")]
    command += ["--reuse-generated", reuse] if reuse else []
    env = {**os.environ, "XQG_CACHE": str((where / "cache").resolve())}
    with open(where / "log.txt", "a", encoding="utf-8") as log:
        subprocess.run(command, cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, check=True)


def stage_seconds(timings: Path) -> dict[str, float]:
    """Seconds per stage over every run logged in ``timings.jsonl`` (skipped stages count nothing)."""
    seconds: dict[str, float] = {}
    for line in timings.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if not row["skipped"]:
            seconds[row["stage"]] = seconds.get(row["stage"], 0.0) + row["seconds"]
    return seconds


def grouped(seconds: dict[str, float]) -> dict[str, float]:
    out = {name: sum(s for stage, s in seconds.items() if re.match(pattern, stage)) for name, pattern in GROUPS}
    out["export and the rest"] = sum(seconds.values()) - sum(out.values())
    return out


def same_files(a: dict, b: dict) -> tuple[int, list[str]]:
    """How many files the two manifests list with the same SHA-1, and the names that differ."""
    names = sorted(set(a) | set(b))
    differ = [n for n in names if a.get(n, {}).get("sha1") != b.get(n, {}).get("sha1")]
    return len(names) - len(differ), differ


KEYS = ["benchmark", "plm", "variant", "split", "alpha", "n", "lang", "metric"]


def results_agreement(reference: Path, built: Path) -> list[str]:
    """Where two studies' results differ: cells whose value moved (the largest move, in points and in
    questions), significance calls that flip (p_adj < 0.05 on one side only), and the alphas the dev
    half selects (n = 5, per PLM and variant)."""
    import pandas as pd

    from xqg_core.study.intervals import selected_alpha

    def table(study: Path) -> pd.DataFrame:
        whole = pd.read_parquet(study / "results.parquet").assign(split="all")
        return pd.concat([whole, pd.read_parquet(study / "splits.parquet")], ignore_index=True).fillna({"variant": ""})

    old, new = table(reference), table(built)
    keys = [k for k in KEYS if k in old.columns]
    both = old.merge(new, on=keys, suffixes=("_old", "_new"), validate="one_to_one")
    if len(both) != len(old) or len(both) != len(new):
        return [f"The two studies' result tables do not hold the same cells ({len(old):,} and {len(new):,} rows)."]
    moved = both[~np.isclose(both.value_old, both.value_new, rtol=0, atol=1e-9, equal_nan=True)]
    if not len(moved):
        return [f"Every one of the {len(both):,} result cells is the same."]
    one_language = moved[~moved.lang.str.startswith("avg") & moved.metric.str.match(r"R@\d+kt$")]
    questions = (one_language.value_old - one_language.value_new).abs() * one_language.num_queries_old / 100
    tested = both[both.p_adj_old.notna() & both.p_adj_new.notna()]
    flips = tested[(tested.p_adj_old < 0.05) != (tested.p_adj_new < 0.05)]
    lines = [f"Where the results differ: {len(moved):,} of {len(both):,} cells (whole set and dev / test halves) "
             f"moved, by at most {(moved.value_old - moved.value_new).abs().max():.2f} points (R@kt of one "
             f"language: at most {questions.max():.0f} question); {len(flips)} of {len(tested):,} Holm-adjusted "
             f"calls flip across p_adj = 0.05" + (":" if len(flips) else ".")]
    for row in flips.sort_values(keys).head(12).itertuples():
        lines.append(f"- {row.benchmark} {row.plm} {row.variant} ({row.split}), alpha {row.alpha:g}, n {row.n}, "
                     f"{row.lang} {row.metric}: p_adj {row.p_adj_old:.3f} -> {row.p_adj_new:.3f}")
    if len(flips) > 12:
        lines.append(f"- and {len(flips) - 12} more")
    picks = []
    for (plm, variant), rows in new[(new.split == "dev") & (new.benchmark == "xquad-xr")].groupby(["plm", "variant"]):
        before = old[(old.split == "dev") & (old.benchmark == "xquad-xr") & (old.plm == plm) & (old.variant == variant)]
        a, b = (selected_alpha(t.to_dict("records"), variant, 5) for t in (before, rows))
        picks.append(f"{plm} {variant} {a:g}" if a == b else f"{plm} {variant} {a:g} -> {b:g}")
    lines += ["", "Alphas selected on the dev half (n = 5; an arrow marks a change): " + "; ".join(picks) + "."]
    return lines


def parse_time(stamp: str) -> datetime:
    return datetime.strptime(stamp.strip(), "%Y-%m-%dT%H:%M:%SZ")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--run", type=Path, help="run the precompute into this directory, then report")
    where.add_argument("--dir", type=Path, help="report on a directory an earlier --run wrote")
    parser.add_argument("--config", type=Path, default=PROJECT_ROOT / "configs/default.yaml")
    parser.add_argument("--reuse-generated", default=None, help="passed on to the precompute")
    parser.add_argument("--reference", type=Path, default=PROJECT_ROOT / "cached_artifacts")
    parser.add_argument("--generation", type=Path, default=None,
                        help="a second run's directory (its corpora and generate stages from a fresh cache): "
                             "its generation seconds complete a run that reused generated queries")
    parser.add_argument("--write", action="store_true", help="update BENCHMARKS.md")
    args = parser.parse_args()
    root = args.run or args.dir
    if args.run:
        run_precompute(args.run, args.config, args.reuse_generated)

    work = next((root / "cache/precompute").iterdir())
    built = json.loads((root / "out/manifest.json").read_text(encoding="utf-8"))
    reference = json.loads((args.reference / "manifest.json").read_text(encoding="utf-8"))
    mine, theirs = grouped(stage_seconds(work / "timings.jsonl")), grouped(reference["stage_seconds"])
    wall = (parse_time(built["created"]) - parse_time((root / "started").read_text())).total_seconds()
    same, differ = same_files(built["files"], reference["files"])
    reused = "generated queries reused from the reference study" if mine["generate"] < 60 else "queries generated"
    lines = [
        "## The whole precompute (`python -m benchmarks.precompute_time --write`)",
        "",
        f"`configs/default.yaml` on {machine_line()}, from a fresh cache ({reused}), code "
        f"`{built['code_version'][:12]}`; beside it the reference study's own manifest (`{args.reference.name}`, "
        f"code `{reference['code_version'][:12]}`, built {reference['created'][:10]}). Minutes per stage group:",
        "",
        "| stages | this run | reference build |",
        "|---|---|---|",
    ]
    lines += [f"| {name} | {mine[name] / 60:.1f} | {theirs[name] / 60:.1f} |" for name in mine if mine[name] or theirs[name]]
    lines += [f"| **sum of stages** | **{sum(mine.values()) / 60:.1f}** | {sum(theirs.values()) / 60:.1f} |", "",
              f"Wall time from the start to the export's manifest: **{wall / 3600:.2f} h** ({wall / 60:.0f} min). "
              f"Files of the two studies (every file but the manifest): {same} of {same + len(differ)} identical "
              f"by SHA-1" + (f"; differing: {', '.join(differ)}." if differ else ", bit for bit.")]
    if args.generation:
        generated = grouped(stage_seconds(next((args.generation / "cache/precompute").iterdir()) / "timings.jsonl"))
        scratch = sum(mine.values()) - mine["generate"] + generated["generate"]
        lines += ["", f"Generation from a fresh cache, timed in a second run on this machine (`{args.generation}`): "
                      f"**{generated['generate'] / 60:.1f} min**. With it in place of the reused queries, the "
                      f"precompute from scratch comes to **{scratch / 3600:.2f} h** of stage time."]
    if differ:
        lines += ["", *results_agreement(args.reference, root / "out")]
    publish("precompute-time", lines, args.write)


if __name__ == "__main__":
    main()
