"""Swapping a complete new study into the artifacts directory so that no kill loses a study.
"""
from __future__ import annotations

import shutil
from pathlib import Path

# What a study is in the artifacts directory (the shipped generator and READMEs beside it are not).
STUDY_ENTRIES = ("manifest.json", "corpora", "queries", "outcomes", "index", "texts", "results.parquet",
                 "generated_queries.parquet", "umap.parquet")


def swap_in(out: Path) -> None:
    """Replace the study in ``out`` by the complete one in ``out/.export.partial``.

    1. the previous study's entries move to ``out/.export.previous``, which is then marked
       complete; 2. the new entries move in, the manifest last; 3. both folders go. A kill at
    any point leaves every file of both studies on disk, and :func:`recover_swap` (run by
    the next export or load) finishes the swap, or undoes step 1 if it was cut short.
    """
    partial, previous = out / ".export.partial", out / ".export.previous"
    moved = previous / ".complete"
    if not moved.is_file():
        previous.mkdir(exist_ok=True)
        for name in STUDY_ENTRIES:
            if (out / name).exists():
                (out / name).rename(previous / name)
        moved.touch()
    for child in sorted(partial.iterdir(), key=lambda c: c.name == "manifest.json"):
        child.rename(out / child.name)  # step 1 emptied every study entry of out
    partial.rmdir()
    shutil.rmtree(previous)


def recover_swap(out: Path) -> None:
    """Finish an export killed while swapping studies (see :func:`swap_in`); an export killed
    before its study was complete leaves only a partial folder, which is removed."""
    partial, previous = out / ".export.partial", out / ".export.previous"
    if previous.is_dir() and not (previous / ".complete").is_file():  # step 1 cut short: undo it
        for child in previous.iterdir():
            child.rename(out / child.name)
        previous.rmdir()
    if (partial / "manifest.json").is_file():
        swap_in(out)
    elif previous.is_dir():  # killed after the last move
        shutil.rmtree(previous)
    if partial.exists() and not (partial / "manifest.json").is_file():
        shutil.rmtree(partial)
