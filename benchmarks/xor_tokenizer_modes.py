"""How much R@kt moves between the official tokenisation and ``preserve_line=True``.

The official script calls ``nltk.word_tokenize`` (Punkt sentence split + Treebank words);
without Punkt data one could use ``preserve_line=True``. This measures the difference on
real rankings: XQuAD questions (seven languages) against the English XQuAD paragraphs cut
into <= 100-word passages plus the Vital Articles passages, retrieved by an offline
encoder (top 100), each question's answer = its English XQuAD answer.

    python -m benchmarks.xor_tokenizer_modes [--encoder use-m-v3] [--write]
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from benchmarks.report import publish
from xqg_core.data.loaders import load_squad, load_vital_articles, split_into_passages
from xqg_core.models.encoders import load_encoder
from xqg_core.paths import resolve_data_dir
from xqg_core.retrieval.evaluate import TokenCache, evaluate_xor_retrieve, recall_at_k_tokens
from xqg_core.retrieval.search import search, xor_predictions

LANGS = ("ar", "de", "es", "hi", "ru", "vi", "zh")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--encoder", default="use-m-v3")
    parser.add_argument("--depth", type=int, default=100)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()

    data_dir = resolve_data_dir()
    english = load_squad(data_dir / "xquad/xquad.en.json", "en")
    paragraphs = {q.paragraph_id: (q.title, q.context) for q in english}
    passages = [p for pid, (title, ctx) in paragraphs.items() for p in split_into_passages(f"xquad-{pid}", title, ctx)]
    passages += load_vital_articles()
    answers = {q.id: q.answers for q in english}
    queries = [q for lang in LANGS for q in load_squad(data_dir / f"xquad/xquad.{lang}.json", lang)]

    encoder = load_encoder(args.encoder)
    t0 = time.perf_counter()
    p = encoder.encode_passages([x.contents for x in passages], show_progress=True)
    q = encoder.encode_queries([x.question for x in queries], show_progress=True)
    _, ranked = search(p, q, args.depth)
    print(f"encoded and searched in {time.perf_counter() - t0:.0f} s")
    preds = xor_predictions([x.id + "-" + x.lang for x in queries], [x.lang for x in queries], ranked,
                            [x.text for x in passages])
    gold = {x.id + "-" + x.lang: answers[x.id] for x in queries}

    caches = {mode: TokenCache(mode) for mode in ("punkt", "line")}
    results = {mode: evaluate_xor_retrieve(gold, preds, mode=mode, token_cache=cache) for mode, cache in caches.items()}
    changed = {k: sum(recall_at_k_tokens(r["ctxs"], gold[r["id"]], k * 1000, caches["punkt"])
                      != recall_at_k_tokens(r["ctxs"], gold[r["id"]], k * 1000, caches["line"]) for r in preds)
               for k in (2, 5)}
    texts = [x.text for x in passages[:2000]]
    tokens = {mode: np.mean([len(caches[mode](t)) for t in texts]) for mode in caches}

    lines = [
        "## R@kt: official tokenisation vs `preserve_line=True` (`python -m benchmarks.xor_tokenizer_modes --write`)",
        "",
        f"{len(queries)} XQuAD questions ({', '.join(LANGS)}) against {len(passages)} English passages "
        f"(XQuAD paragraphs in <= 100-word passages + Vital Articles), `{args.encoder}` top {args.depth}, "
        "the same rankings scored both ways.",
        "",
        "| metric | mode | " + " | ".join(LANGS) + " | avg |",
        "|---|---|" + "---|" * (len(LANGS) + 1),
    ]
    for metric in ("R@2kt", "R@5kt"):
        for mode in ("punkt", "line"):
            row = results[mode][metric]
            lines.append(f"| {metric} | {mode} | " + " | ".join(f"{row[lang]:.2f}" for lang in LANGS) + f" | {row['avg']:.2f} |")
    lines += [
        "",
        f"Questions whose outcome differs: R@2kt {changed[2]}, R@5kt {changed[5]} of {len(preds)}. "
        f"Tokens per passage: punkt {tokens['punkt']:.1f}, line {tokens['line']:.1f} (first 2,000 passages).",
    ]
    publish("tokenizer-modes", lines, args.write)


if __name__ == "__main__":
    main()
