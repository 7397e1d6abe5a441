"""Swapping a complete new study into the artifacts directory so that no kill loses a study.

The export (and ``reindex``) write the new study into ``{out}/.export.partial``, manifest last;
:func:`swap_in` then moves it in, and :func:`recover_swap` (run by the next export, reindex or
load) finishes or undoes a swap that a kill cut short. Every step is a rename, except the
removal of the old study, which happens only after the old study's folder has been renamed to
``.export.discard``: a kill during that removal leaves a folder that recovery simply removes
(recovery never mistakes a half-removed old study for one to move back).
"""
from __future__ import annotations

import shutil
from pathlib import Path

# What a study is in the artifacts directory (the shipped generator and READMEs beside it are not).
STUDY_ENTRIES = ("manifest.json", "corpora", "queries", "outcomes", "index", "texts", "results.parquet",
                 "splits.parquet", "generated_queries.parquet", "umap.parquet")
PARTIAL, PREVIOUS, DISCARD = ".export.partial", ".export.previous", ".export.discard"


def swap_in(out: Path) -> None:
    """Replace the study in ``out`` by the complete one in ``out/.export.partial``.

    1. the previous study's entries move to ``out/.export.previous``, which is then marked
       complete; 2. the new entries move in, the manifest last; 3. the emptied partial folder
       goes, and the previous folder is renamed to ``.export.discard`` and removed. A kill at
    any point leaves every file of the new study on disk, and :func:`recover_swap` finishes
    the swap, or undoes step 1 if it was cut short.
    """
    partial, previous = out / PARTIAL, out / PREVIOUS
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
    discard(out)


def discard(out: Path) -> None:
    """Remove the previous study: renamed first, so that its removal is never half-seen as a study."""
    if (out / PREVIOUS).is_dir():
        if (out / DISCARD).exists():
            shutil.rmtree(out / DISCARD)
        (out / PREVIOUS).rename(out / DISCARD)
    if (out / DISCARD).exists():
        shutil.rmtree(out / DISCARD)


def recover_swap(out: Path) -> None:
    """Finish an export killed while swapping studies (see :func:`swap_in`); an export killed
    before its study was complete leaves only a partial folder, which is removed."""
    partial, previous = out / PARTIAL, out / PREVIOUS
    if (out / DISCARD).exists():  # killed while removing the old study: the swap had finished
        shutil.rmtree(out / DISCARD)
    if previous.is_dir() and not (previous / ".complete").is_file():  # step 1 cut short: undo it
        for child in previous.iterdir():
            child.rename(out / child.name)
        previous.rmdir()
    if (partial / "manifest.json").is_file():
        swap_in(out)
    elif previous.is_dir():  # killed after the last move
        discard(out)
    if partial.exists() and not (partial / "manifest.json").is_file():
        shutil.rmtree(partial)
