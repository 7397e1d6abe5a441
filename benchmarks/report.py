"""Write a benchmark's markdown section into BENCHMARKS.md (between its own markers); run a
benchmark's child under another revision's code (a git worktree) for a same-run comparison."""
from __future__ import annotations

import contextlib
import json
import os
import platform
import re
import subprocess
import sys
from pathlib import Path
from typing import Iterator

from xqg_core.io import write_text_atomic

BENCHMARKS_MD = Path(__file__).resolve().parent.parent / "BENCHMARKS.md"


def machine_line() -> str:
    import torch

    cpu = platform.processor() or platform.machine()
    return f"{os.cpu_count()} CPU cores ({cpu}), torch {torch.__version__} with {torch.get_num_threads()} threads"


def update_section(name: str, body: str) -> None:
    """Replace (or append) the section delimited by ``<!-- name:start -->`` / ``<!-- name:end -->``."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    block = f"{start}\n{body.rstrip()}\n{end}"
    text = BENCHMARKS_MD.read_text(encoding="utf-8") if BENCHMARKS_MD.exists() else "# Benchmarks\n"
    pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), re.S)
    text = pattern.sub(lambda _: block, text) if pattern.search(text) else text.rstrip() + "\n\n" + block + "\n"
    write_text_atomic(BENCHMARKS_MD, text)


def publish(name: str, lines: list[str], write: bool) -> None:
    """Print a benchmark's report; with ``write``, also store it as section ``name``."""
    report = "\n".join(lines)
    print(report)
    if write:
        update_section(name, report)


PROJECT = BENCHMARKS_MD.parent


@contextlib.contextmanager
def worktree(revision: str, where: Path) -> Iterator[Path]:
    """A detached git worktree of ``revision`` at ``where``, removed afterwards."""
    subprocess.run(["git", "worktree", "add", "--detach", str(where), revision], cwd=PROJECT, check=True,
                   capture_output=True)
    try:
        yield where
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(where)], cwd=PROJECT, check=False)


def run_in_tree(tree: Path, code: str, *args: str) -> dict:
    """Run ``code`` (Python, printing one JSON line last) with ``tree``'s xqg_core; its JSON. The data
    directory is passed on: a worktree has no ``../shared/data`` beside it."""
    from xqg_core.paths import resolve_data_dir

    data = resolve_data_dir(required=False)
    env = {**os.environ, **({"XQG_DATA_DIR": str(data)} if data else {})}
    done = subprocess.run([sys.executable, "-c", code, *args], cwd=tree, env=env, capture_output=True, text=True,
                          check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def tree_label() -> str:
    """This tree's revision, short, marked when it has uncommitted changes to tracked files."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=PROJECT, capture_output=True, text=True).stdout.strip()

    dirty = git("status", "--porcelain", "--untracked-files=no")
    return git("rev-parse", "--short", "HEAD") + (" + uncommitted changes" if dirty else "")
