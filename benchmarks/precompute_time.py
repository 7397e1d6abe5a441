"""The whole precompute on this machine, stage by stage, and whether it reproduces the shipped study.

``--run DIR`` runs ``python -m xqg_core precompute`` on a copy of ``--config`` whose
``output_dir`` is ``DIR/out``, with a fresh cache ``DIR/cache`` (``XQG_CACHE``: the converted
me5-small, the me5-static table and the work directory are all built again), and
``--reuse-generated`` passed on when given. Without ``--run`` it reports on such a directory
after the fact (a run may span several processes: each stage's seconds are its own, in
``timings.jsonl``; a stage skipped as unchanged counts nothing).

The report: seconds per stage group, this run beside the reference study's manifest
(``stage_seconds``), their sums, the run's wall time (its start to the export's manifest), and
the files of the two studies compared by SHA-1: every file but the manifest, bit for bit.

    python -m benchmarks.precompute_time --run build/timing [--reuse-generated cached_artifacts] [--write]
    python -m benchmarks.precompute_time --dir build/timing [--write]
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
    reused = "generated queries reused from the reference study" if built["stage_seconds"].get(
        "generate-xquad-xr", 0) < 60 else "queries generated"
    lines = [
        "## The whole precompute (`python -m benchmarks.precompute_time --write`)",
        "",
        f"`configs/default.yaml` on {machine_line()}, from a fresh cache ({reused}), code "
        f"`{built['code_version'][:12]}`; beside it the reference study's own manifest (`{args.reference.name}`, "
        f"code `{reference['code_version'][:12]}`). Minutes per stage group:",
        "",
        "| stages | this run | reference build |",
        "|---|---|---|",
    ]
    lines += [f"| {name} | {mine[name] / 60:.1f} | {theirs[name] / 60:.1f} |" for name in mine if mine[name] or theirs[name]]
    lines += [f"| **sum of stages** | **{sum(mine.values()) / 60:.1f}** | {sum(theirs.values()) / 60:.1f} |", "",
              f"Wall time from the start to the export's manifest: **{wall / 3600:.2f} h** ({wall / 60:.0f} min). "
              f"Files of the two studies (every file but the manifest): {same} of {same + len(differ)} identical "
              f"by SHA-1" + (f"; differing: {', '.join(differ)}." if differ else ", bit for bit.")]
    publish("precompute-time", lines, args.write)


if __name__ == "__main__":
    main()
