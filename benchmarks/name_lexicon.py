"""Could a name lexicon learnt from the training pairs write the generated queries' names in script?

The generated ar / hi / ru / zh queries carry copied Latin-script names. The training pairs that
hold an English text beside a text in the language (English question -> question in L: Mintaka,
RuBQ, XOR-TyDi; English passage -> question in L: MLQA, the translated SQuAD sets) can teach how
those names are written there. This learns the simplest such lexicon and measures what it could
reach before anything is built on it:

- English side: capitalised Latin words; L side: words in L's script (zh: runs of Han
  characters, as their 2-4 character substrings, zh having no spaces);
- a pair (English word e, L word f) is kept when they co-occur in at least 2 training pairs,
  Dice 2 c(e, f) / (c(e) + c(f)) >= 0.4, f is e's best, and e is in under 2% of the pairs;
- coverage: the share of the Latin-script words in the shipped study's generated queries of
  each language that the lexicon holds, with the most frequent ones and a sample of entries.

    python -m benchmarks.name_lexicon [--write]
"""
from __future__ import annotations

import argparse
import re
from collections import Counter

from benchmarks.report import publish, tree_label

SCRIPT_WORD = {"ar": r"[\u0621-\u064A]+", "hi": r"[\u0900-\u0963\u0966-\u097F]+", "ru": r"[А-Яа-яЁё]+",
               "zh": r"[\u4e00-\u9fff]+"}
ENGLISH_NAME = re.compile(r"(?<![\w'])[A-Z][A-Za-z'\-]*[a-z][A-Za-z'\-]*")
LATIN_WORD = re.compile(r"[A-Za-z][A-Za-z'\-]+")


def script_words(lang: str, text: str) -> set[str]:
    runs = re.findall(SCRIPT_WORD[lang], text)
    if lang != "zh":
        return set(runs)
    return {run[i : i + n] for run in runs for n in (2, 3, 4) for i in range(len(run) - n + 1)}


def learn_lexicon(parallel: list[tuple[str, str]], lang: str, min_count: int = 2, min_dice: float = 0.4,
                  max_share: float = 0.02) -> dict[str, tuple[str, float, int]]:
    """English name -> (its word in ``lang``, Dice, co-occurrences) from (English text, text in L) pairs."""
    english, local, both = Counter(), Counter(), Counter()
    for en, text in parallel:
        names, words = set(ENGLISH_NAME.findall(en)), script_words(lang, text)
        english.update(names)
        local.update(words)
        both.update((e, f) for e in names for f in words)
    best: dict[str, tuple[str, float, int]] = {}
    for (e, f), count in both.items():
        dice = 2 * count / (english[e] + local[f])
        if count >= min_count and dice > best.get(e, ("", 0.0, 0))[1]:
            best[e] = (f, dice, count)
    return {e: v for e, v in best.items() if v[1] >= min_dice and english[e] < max_share * len(parallel)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="configs/generator-v3.yaml")
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()

    import pandas as pd

    from xqg_core.models.qg_data import GeneratorTrainConfig, build_pairs
    from xqg_core.paths import ARTIFACTS_DIR

    pairs = build_pairs(GeneratorTrainConfig.from_yaml(args.config)).train
    queries = pd.read_parquet(ARTIFACTS_DIR / "generated_queries.parquet", columns=["lang", "text"])
    lines = [
        "## Name lexicon from the training pairs (`python -m benchmarks.name_lexicon --write`)", "",
        f"Tree {tree_label()}. Pairs of `{args.config}` that hold English beside the language; the shipped "
        "study's generated queries. Coverage: the share of the Latin-script words in those queries that the "
        "lexicon holds.", "",
        "| language | parallel pairs | lexicon entries | Latin words in the queries | covered | most frequent covered | sample entries |",
        "|---|---|---|---|---|---|---|",
    ]
    for lang in SCRIPT_WORD:
        parallel = [(p.source.split(":", 1)[1], p.target) for p in pairs if p.lang == lang and
                    (p.source.startswith("query: ") or p.kind == "en-context" or p.origin == "mlqa")]
        lexicon = learn_lexicon(parallel, lang)
        words = [w for text in queries.loc[queries.lang == lang, "text"] for w in LATIN_WORD.findall(text)]
        covered = Counter(w for w in words if w in lexicon)
        sample = ", ".join(f"{e} -> {lexicon[e][0]}" for e in sorted(lexicon, key=lambda e: -lexicon[e][2])[:6])
        lines.append(f"| {lang} | {len(parallel):,} | {len(lexicon):,} | {len(words):,} | "
                     f"{sum(covered.values()) / max(1, len(words)):.1%} | "
                     f"{', '.join(w for w, _ in covered.most_common(5))} | {sample} |")
    publish("name-lexicon", lines, args.write)


if __name__ == "__main__":
    main()
