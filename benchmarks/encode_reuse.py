"""Texts the precompute encodes twice, and what encoding each once saves (me5-small dominates
the precompute: ~124 queries/s on 2 cores, where the arithmetic is near the cores' peak, so only
less work makes it faster).

- ``variants``: the ``copy-only`` / ``no-copy`` reductions of every generated query. A query
  with no copied word is its own ``no-copy`` reduction (ar 67%, hi 69%, zh 87% of queries), a
  query made only of copied words its own ``copy-only`` one; the encode stage already holds
  those rows. Before: distinct copy-only texts + distinct no-copy texts, each set encoded apart.
  Now: the distinct reductions the encode stage does not hold.
- ``queries`` (PAWS-X): the benchmark's queries are PAWS-X sentences that the pair
  classification encodes again. Before: the queries + the distinct pair sentences. Now: the
  distinct union.

Counts are over the whole shipped corpus; the seconds are both readings of the variants stage
timed in this run with me5-small on a seeded sample of passages (the same texts, the same
encoder), and scaled to the corpus by the counts of tokens each encodes.

    python -m benchmarks.encode_reuse [--passages 150] [--write]
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.report import machine_line, publish
from xqg_core.models.encoders import load_encoder
from xqg_core.pipeline.reindex import generated_records
from xqg_core.pipeline.stage_encode import encode_unique, flatten_generated
from xqg_core.pipeline.stage_variants import copy_split_texts
from xqg_core.study.artifacts import artifact_config, load_artifacts, resolve_study


def variant_work(records, passages, langs, n_max):
    """``(generated, copy_only, no_copy, before, after)``: the generated queries, their two
    reductions, the texts the variants stage encoded before (each reduction's distinct texts
    apart) and those it encodes now."""
    texts = flatten_generated(records, langs, n_max)[0]
    copy_only, no_copy = copy_split_texts(records, passages, langs, n_max)
    before = sorted(set(copy_only)) + sorted(set(no_copy))
    after = sorted(set(copy_only + no_copy) - set(texts))
    return texts, copy_only, no_copy, before, after


def token_count(encoder, texts) -> int:
    return sum(len(ids) for ids in encoder.tokenize([encoder.spec.query_prefix + t for t in texts],
                                                    encoder.spec.q_max_len))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--passages", type=int, default=150, help="passages in the timed sample")
    parser.add_argument("--write", action="store_true", help="update BENCHMARKS.md")
    args = parser.parse_args()
    arts = load_artifacts(None)
    cfg = artifact_config(arts)
    passages = resolve_study(arts, None).corpora["xquad-xr"]
    records = generated_records(arts, "xquad-xr", [p.docid for p in passages])
    langs, n_max = cfg.generation_langs, cfg.n_max
    texts, _, _, before, after = variant_work(records, passages, langs, n_max)
    encoder = load_encoder("me5-small", device="cpu")
    tokens = {"generated": token_count(encoder, texts), "before": token_count(encoder, before),
              "after": token_count(encoder, after)}

    rows = np.sort(np.random.default_rng(0).choice(len(passages), args.passages, replace=False))
    sample_p, sample_r = [passages[i] for i in rows], [records[i] for i in rows]
    s_texts, s_copy, s_nocopy, s_before, s_after = variant_work(sample_r, sample_p, langs, n_max)
    E = encoder.encode_queries(s_texts)
    seconds = {}
    with tempfile.TemporaryDirectory() as scratch:
        start = time.perf_counter()
        old = [encode_unique(encoder.encode_queries, t, Path(scratch), tag, 10**9)
               for t, tag in ((s_copy, "copy"), (s_nocopy, "nocopy"))]
        seconds["before"] = time.perf_counter() - start
        start = time.perf_counter()
        new = encode_unique(encoder.encode_queries, s_copy + s_nocopy, Path(scratch), "reduced", 10**9,
                            known=(s_texts, E))
        seconds["after"] = time.perf_counter() - start
    drift = float(np.abs(np.concatenate(old) - new).max())
    sample_tokens = {k: token_count(encoder, t) for k, t in (("before", s_before), ("after", s_after))}
    scaled = {k: seconds[k] * tokens[k] / sample_tokens[k] / 60 for k in ("before", "after")}

    data = build_pairs(cfg)
    lines = [
        "## Texts encoded once (`python -m benchmarks.encode_reuse --write`)", "",
        f"Machine: {machine_line()}. The shipped study's {len(passages):,} xquad-xr passages, "
        f"{len(texts):,} generated queries ({tokens['generated']:,} me5-small tokens). The variants stage's "
        f"reductions, before and now; the minutes are both readings timed in this run with me5-small on "
        f"{args.passages} seeded passages ({len(s_before):,} and {len(s_after):,} texts: "
        f"{seconds['before']:.1f} s and {seconds['after']:.1f} s), scaled to the corpus by tokens. The largest "
        f"difference between a row taken from the encode stage and the same text encoded again: {drift:.1e} "
        "(float rounding of another batch).", "",
        "| stage | texts before | texts now | tokens before | tokens now | me5-small minutes before | now |",
        "|---|---|---|---|---|---|---|",
        f"| variants (xquad-xr) | {len(before):,} | {len(after):,} | {tokens['before']:,} | {tokens['after']:,} | "
        f"{scaled['before']:.0f} | {scaled['after']:.0f} |"]
    if data is not None:
        queries, sentences = data
        lines.append(f"| queries (pawsx-adv) | {len(queries) + len(set(sentences)):,} | "
                     f"{len(set(queries) | set(sentences)):,} | | | | |")
    publish("encode-reuse", lines, args.write)


def build_pairs(cfg):
    """PAWS-X's query texts and pair sentences, from the data directory (None without one)."""
    from xqg_core.errors import XqgError
    from xqg_core.paths import resolve_data_dir
    from xqg_core.study.inputs import build_study_inputs

    try:
        built = build_study_inputs(cfg, resolve_data_dir(cfg.data_dir))
    except XqgError:
        return None
    return [q["text"] for q in built.queries.get("pawsx-adv", [])], [s for r in built.pairs for s in (r["s1"], r["s2"])]


if __name__ == "__main__":
    main()
