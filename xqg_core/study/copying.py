"""Where a generated query's signal comes from: the words it copies from its passage, and the rest.

A query word counts as *copied* when it occurs in its passage's title or text: word tokens
(``\\w+``, Unicode), compared case-insensitively (``str.casefold``). A query in ar, hi, ru or
zh that finds its English passage through a copied English name finds it without being a
question in its language; the ``no-copy`` reading (copied words removed) shows what the
language itself carries, the ``copy-only`` reading what the copied words carry.
"""
from __future__ import annotations

import re

WORD = re.compile(r"\w+")


def passage_words(title: str, text: str) -> frozenset[str]:
    """The casefolded word tokens of a passage's title and text."""
    return frozenset(w.casefold() for w in WORD.findall(f"{title} {text}"))


def split_copied(query: str, words: frozenset[str]) -> tuple[str, str]:
    """``(copy_only, no_copy)``: the query's copied words, and the query with them removed
    (everything that is not a copied word is kept, punctuation included; runs of spaces
    collapse). The two partition the query's word tokens."""
    copied = [m for m in WORD.finditer(query) if m.group().casefold() in words]
    kept, start = [], 0
    for m in copied:
        kept.append(query[start : m.start()])
        start = m.end()
    kept.append(query[start:])
    no_copy = " ".join("".join(kept).split())
    return " ".join(m.group() for m in copied), no_copy
