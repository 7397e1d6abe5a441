"""Query-generator quality and speed on the held-out MLQA contexts.

Per target language: share of queries whose detected language (``langid``) is the
requested one, chrF against the held-out reference questions (sacrebleu; MLQA has no
Russian questions), distinct-2 over mE5 pieces, share of queries copied verbatim from
the passage, and three sample queries. The untrained warm-started model (the starting
point of fine-tuning) runs on the same contexts in the same run as the baseline.

    python -m benchmarks.generator_quality [--generator me5-qg] [--contexts 60] [--write]
"""
from __future__ import annotations

import argparse
import copy
import functools
import hashlib
import time
from collections import defaultdict

import numpy as np

from benchmarks.report import machine_line, publish
from xqg_core.data import Passage, load_vital_articles
from xqg_core.generate import LANGUAGE_NAMES, Me5QueryGenerator
from xqg_core.train_generator import GeneratorTrainConfig, build_pairs

LANGS = ("ar", "de", "es", "hi", "ru", "vi", "zh")


@functools.lru_cache(maxsize=4)
def language_identifier(candidates: tuple[str, ...] | None):
    from langid.langid import LanguageIdentifier, model

    identifier = LanguageIdentifier.from_modelstring(model)
    if candidates:
        identifier.set_languages(list(candidates))
    return identifier


def language_accuracy(queries: list[str], lang: str, candidates: tuple[str, ...] | None = None) -> float:
    """Share of queries ``langid`` labels ``lang``; ``candidates`` limits the labels it may choose."""
    identifier = language_identifier(candidates)
    return float(np.mean([identifier.classify(q)[0] == lang for q in queries])) if queries else float("nan")


def distinct_2(token_lists: list[list[int]]) -> float:
    """Unique piece bigrams / all piece bigrams over a set of queries."""
    bigrams = [tuple(t[i : i + 2]) for t in token_lists for i in range(len(t) - 1)]
    return len(set(bigrams)) / len(bigrams) if bigrams else 0.0


def copy_rate(queries: list[str], passages: list[str]) -> float:
    """Share of queries (trailing '?' removed) that occur verbatim in their passage."""
    hits = [q.strip().rstrip("?？").strip() in p for q, p in zip(queries, passages) if q.strip()]
    return float(np.mean(hits)) if hits else 0.0


def chrf(hypotheses: list[str], references: list[list[str]]) -> float:
    """Corpus chrF (sacrebleu defaults: char 6-grams, beta 2); each hypothesis vs all its references."""
    from sacrebleu.metrics import CHRF

    width = max(len(r) for r in references)
    ref_streams = [[r[i] if i < len(r) else "" for r in references] for i in range(width)]
    return CHRF().corpus_score(hypotheses, ref_streams).score


def evaluate(generator, passages, refs, tokenizer, n: int, seed: int) -> tuple[dict, float, int]:
    t0 = time.perf_counter()
    out = generator.generate(passages, list(LANGS), n, seed)
    seconds = time.perf_counter() - t0
    rows = {}
    for lang in LANGS:
        queries = [q for rec in out for q in rec[lang]]
        texts = [p.text for p in passages for _ in range(n)]
        row = {
            "lang_acc": language_accuracy(queries, lang),
            "lang_acc17": language_accuracy(queries, lang, tuple(LANGUAGE_NAMES)),
            "distinct2": distinct_2(tokenizer.encode_batch(queries, 64)),
            "copy": copy_rate(queries, texts),
            "chrf": float("nan"),
            "samples": [(passages[i].title, out[i][lang][0]) for i in range(min(3, len(passages)))],
        }
        with_refs = [i for i, p in enumerate(passages) if refs[p.docid].get(lang)]
        if with_refs:
            row["chrf"] = chrf([q for i in with_refs for q in out[i][lang]],
                               [refs[passages[i].docid][lang] for i in with_refs for _ in range(n)])
        rows[lang] = row
    return rows, seconds, len(passages) * len(LANGS) * n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--generator", default=None, help="me5-qg directory (default: the cache's me5-qg)")
    parser.add_argument("--contexts", type=int, default=60, help="held-out contexts to generate for")
    parser.add_argument("--n", type=int, default=5)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--speed-passages", type=int, default=64, help="Vital Articles passages for the speed test")
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()

    from xqg_core.train_generator import build_model

    cfg = GeneratorTrainConfig.from_yaml("configs/generator.yaml")
    heldout = build_pairs(cfg).heldout
    refs: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    passages: dict[str, Passage] = {}
    for pair in heldout:
        docid = "mlqa-" + hashlib.sha1(pair.group.encode("utf-8")).hexdigest()[:10]
        passages.setdefault(pair.group, Passage(docid, pair.title, pair.group))
        refs[passages[pair.group].docid][pair.lang].append(pair.target)
    chosen = sorted(passages.values(), key=lambda p: p.docid)[: args.contexts]

    trained = Me5QueryGenerator(args.generator)
    baseline = Me5QueryGenerator(args.generator)  # same vocabulary, weights reset to the warm start
    baseline.model.load_state_dict(build_model(cfg, baseline.model.vocab.numpy(), _Me5(baseline)).state_dict())
    unmasked = copy.copy(trained)  # the same loaded model, decoding without constraints
    unmasked.constrain = False
    results = {}
    for name, gen in (("me5-qg (fine-tuned)", trained), ("me5-qg without decoding constraints", unmasked),
                      ("warm start, untrained (baseline)", baseline)):
        results[name] = evaluate(gen, chosen, refs, trained.tokenizer, args.n, args.seed)

    lines = [
        "## Query generator quality (`python -m benchmarks.generator_quality --write`)",
        "",
        f"{len(chosen)} held-out MLQA contexts (never trained on) x {len(LANGS)} languages x {args.n} queries, "
        f"top-k 10 sampling, seed {args.seed}; {machine_line()}. lang_acc: `langid` over its 97 languages; "
        f"lang_acc17: `langid` choosing among the {len(LANGUAGE_NAMES)} languages this tool knows (short, noisy "
        "queries get labelled with close relatives: gl/ca for es, ne/mr for hi, bg/sr/uk for ru); chrF (sacrebleu) "
        "against the held-out MLQA questions of the same context (none in Russian); distinct-2 over "
        "mE5 pieces; copy = query found verbatim in its passage.",
        "",
        "| model | metric | " + " | ".join(LANGS) + " |",
        "|---|---|" + "---|" * len(LANGS),
    ]
    for name, (rows, seconds, count) in results.items():
        for metric, fmt in (("lang_acc", "{:.2f}"), ("lang_acc17", "{:.2f}"), ("chrf", "{:.1f}"),
                            ("distinct2", "{:.2f}"), ("copy", "{:.1%}")):
            cells = ["n/a" if np.isnan(rows[lang][metric]) else fmt.format(rows[lang][metric]) for lang in LANGS]
            lines.append(f"| {name} | {metric} | " + " | ".join(cells) + " |")
    vital = load_vital_articles()[: args.speed_passages]  # passages like the study's (<= 100 words)
    speed = []
    for batch_size in (4, 8, 16):
        trained.batch_size = batch_size
        t0 = time.perf_counter()
        trained.generate(vital, list(LANGS), args.n, args.seed)
        speed.append((batch_size, len(vital) * len(LANGS) * args.n / (time.perf_counter() - t0)))
    lines += ["", f"Speed of me5-qg on {len(vital)} Vital Articles passages (<= 100 words) x {len(LANGS)} "
              f"languages x {args.n}: " + ", ".join(f"{q:.1f} queries/s with {b} passages per batch" for b, q in speed)
              + "; on the held-out MLQA contexts (longer): " + "; ".join(
        f"{name}: {count / seconds:.1f} queries/s" for name, (rows, seconds, count) in results.items()),
              "", "Samples (fine-tuned):", ""]
    rows = results["me5-qg (fine-tuned)"][0]
    for lang in LANGS:
        for title, query in rows[lang]["samples"]:
            lines.append(f"- {LANGUAGE_NAMES[lang]} - *{title}*: {query}")
    publish("generator-quality", lines, args.write)


class _Me5:
    """Adapter giving :func:`build_model` the tokenize/model pair it expects."""

    def __init__(self, gen: Me5QueryGenerator):
        self.model = gen.encoder
        self.tokenize = gen.tokenizer.encode_batch


if __name__ == "__main__":
    main()
