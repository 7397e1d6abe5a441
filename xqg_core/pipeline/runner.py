"""Resumable, checksum-skipped pipeline stages (the precompute's backbone).

A stage is a function that writes its outputs into a directory. :class:`StageRunner`
runs it only when the fingerprint of its inputs (its config, the fingerprints of the
stages it reads, checksums of the data files it reads) differs from the one recorded
when its outputs were last completed, and makes every stage all-or-nothing:

- the function writes into ``{work}/.{name}.partial/``; on success that directory
  replaces ``{work}/{name}/`` and ``{work}/{name}.done.json`` is written last, so a killed
  run leaves the previous complete outputs (or none) and the stage simply runs again;
- a long stage that resumes on its own (e.g. generation shards) gets a scratch
  directory, ``{work}/{name}.scratch/``, that survives a kill and is removed on success;
  it is keyed to the fingerprint of the inputs it was written for: a run with other
  inputs (or ``force``) starts from an empty one, so no stale chunk is ever resumed;
- each run appends ``{stage, seconds, skipped, fingerprint}`` to ``{work}/timings.jsonl``.
"""
from __future__ import annotations

import json
import shutil
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

from xqg_core.checksums import fingerprint
from xqg_core.io import write_json_atomic, write_text_atomic


@dataclass(frozen=True)
class StageResult:
    name: str
    output: Path
    fingerprint: str
    seconds: float
    skipped: bool


class StageRunner:
    def __init__(self, work_dir: str | Path):
        self.work = Path(work_dir)
        self.work.mkdir(parents=True, exist_ok=True)

    def output(self, name: str) -> Path:
        return self.work / name

    def is_done(self, name: str, fp: str) -> bool:
        done = self.work / f"{name}.done.json"
        if not done.is_file() or not self.output(name).is_dir():
            return False
        try:
            return json.loads(done.read_text(encoding="utf-8")).get("fingerprint") == fp
        except json.JSONDecodeError:
            return False

    def run(self, name: str, inputs: dict[str, Any], fn: Callable[[Path, Path], None],
            force: bool = False) -> StageResult:
        """Run ``fn(partial_dir, scratch_dir)`` unless ``inputs`` are unchanged since it last completed."""
        fp = fingerprint(inputs)
        if not force and self.is_done(name, fp):
            result = StageResult(name, self.output(name), fp, 0.0, True)
            self._log(result)
            return result
        partial = self.work / f".{name}.partial"
        scratch = self.work / f"{name}.scratch"
        if partial.exists():
            shutil.rmtree(partial)  # a killed run's half-written outputs
        partial.mkdir(parents=True)
        marker = scratch / ".fingerprint"
        if scratch.exists() and (force or not marker.is_file() or marker.read_text(encoding="utf-8") != fp):
            shutil.rmtree(scratch)  # written for other inputs: nothing in it may be resumed
        if not scratch.exists():
            scratch.mkdir()
            write_text_atomic(marker, fp)
        (self.work / f"{name}.done.json").unlink(missing_ok=True)
        start = time.perf_counter()
        fn(partial, scratch)
        seconds = time.perf_counter() - start
        final = self.output(name)
        if final.exists():
            shutil.rmtree(final)
        partial.rename(final)
        shutil.rmtree(scratch, ignore_errors=True)
        write_json_atomic(self.work / f"{name}.done.json", {"fingerprint": fp, "seconds": seconds, "inputs": inputs})
        result = StageResult(name, final, fp, seconds, False)
        self._log(result)
        return result

    def _log(self, result: StageResult) -> None:
        with open(self.work / "timings.jsonl", "a", encoding="utf-8") as fh:
            fh.write(json.dumps({"stage": result.name, "seconds": round(result.seconds, 3), "skipped": result.skipped,
                                 "fingerprint": result.fingerprint, "at": time.strftime("%Y-%m-%dT%H:%M:%S")}) + "\n")


@contextmanager
def work_dir_lock(work: Path, shard: int | None = None) -> Iterator[None]:
    """Hold the work directory for one run: a whole run alone; the jobs of a cluster array
    (``--shard i``) side by side, but each shard once and never beside a whole run. A second
    run is refused in one line; the locks go with the process (``flock``), so a killed run
    leaves none behind."""
    import fcntl
    import os

    from xqg_core.errors import XqgError

    work.mkdir(parents=True, exist_ok=True)
    held = []
    wanted = [(work / ".lock", fcntl.LOCK_SH if shard is not None else fcntl.LOCK_EX)]
    if shard is not None:
        wanted.append((work / f".lock-shard-{shard}", fcntl.LOCK_EX))
    try:
        for path, mode in wanted:
            fh = open(path, "a+", encoding="utf-8")
            held.append(fh)
            try:
                fcntl.flock(fh, mode | fcntl.LOCK_NB)
            except BlockingIOError:
                fh.seek(0)
                owner = fh.read().strip() or "unknown"
                raise XqgError(f"{work} is in use by another precompute (pid {owner}); wait for it to end, or give "
                               "this run another work_dir") from None
            if mode == fcntl.LOCK_EX:
                fh.truncate(0)
                fh.write(str(os.getpid()))
                fh.flush()
        yield
    finally:
        for fh in held:
            fh.close()
