"""Write a benchmark's markdown section into BENCHMARKS.md (between its own markers)."""
from __future__ import annotations

import os
import platform
import re
from pathlib import Path

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
