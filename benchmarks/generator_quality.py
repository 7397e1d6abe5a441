"""Query-generator quality: are the generated queries about their passage?

Models, in one run: the shipped ``me5-qg`` (or ``--generator DIR``) with its decoding rules
and without them, its untrained warm start (same vocabulary, architecture and decoding
rules, weights as initialised), and the first generator
(``--old DIR`` when its weights are at hand; otherwise its queries as the shipped study
holds them, ``--old-queries``, for the metrics that need only queries).

- **Self-retrieval** (the yardstick that matters for xQG): the queries of a fixed, seeded
  sample of study passages (xquad-xr, from ``cached_artifacts/``), encoded with
  ``me5-small`` (query side), ranked against the study's whole xquad-xr corpus
  (``index/me5-small``): share whose own passage ranks first (@1) / in the top 10 (@10).
  Reference: the passage's English title as the query.
- ``langid`` accuracy (among the generation languages and English, and among its 97), distinct-2 over mE5 pieces, share of queries
  copied verbatim from the passage: on the same sample.
- Teacher-forced loss per target piece on the held-out MLQA pairs (never trained on) with
  the true passage, a shuffled one (another held-out context) and an empty one; the gap
  shuffled - true is how much the decoder reads its passage.
- chrF (sacrebleu) against the held-out MLQA questions of the same contexts.
- Speed: queries per second while generating for the sample (35 queries per passage, 8 passages per batch).

    python -m benchmarks.generator_quality [--passages 350] [--old DIR] [--write]
"""
from __future__ import annotations

import argparse
import copy
import functools
import hashlib
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from benchmarks.report import machine_line, publish
from xqg_core.data.records import Passage
from xqg_core.models.generate import LANGUAGE_NAMES, Me5QueryGenerator
from xqg_core.models.qg_data import GeneratorTrainConfig, build_pairs
from xqg_core.models.qg_decoding import DecodingRules
from xqg_core.paths import ARTIFACTS_DIR, cache_dir

LANGS = ("ar", "de", "es", "hi", "ru", "vi", "zh")
CLOSED_SET = (*LANGS, "en")  # langid choosing among the generation languages and English
NO_RULES = ", no decoding rules"  # the suffix of a model measured without its decoding rules


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


def script_share(queries: list[str], lang: str) -> float:
    """Mean over queries of the share of letters written in ``lang``'s script (1.0 for a query
    without letters): how much of a query is copied text in another script."""
    from xqg_core.models.qg_decoding import LANG_SCRIPTS, char_script

    shares = []
    for q in queries:
        scripts = [char_script(c) for c in q if c.isalpha()]
        shares.append(np.mean([s in LANG_SCRIPTS[lang] for s in scripts]) if scripts else 1.0)
    return float(np.mean(shares)) if shares else float("nan")


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


def self_retrieval_ranks(query_vecs: np.ndarray, owner: np.ndarray, P: np.ndarray) -> np.ndarray:
    """0-based rank of each query's own passage ``owner[i]`` among all rows of ``P``
    (inner product; a tie with another passage counts against the query)."""
    scores = query_vecs @ P.T
    own = scores[np.arange(len(owner)), owner]
    return (scores >= own[:, None]).sum(1) - 1


class Me5Adapter:
    """What :func:`build_model` and :func:`encode_sources` expect of the mE5 encoder."""

    def __init__(self, gen: Me5QueryGenerator):
        self.model = gen.encoder
        self.tokenize = gen.tokenizer.encode_batch


def without_rules(gen: Me5QueryGenerator) -> Me5QueryGenerator:
    """``gen`` sampling with no decoding rules (what training alone learnt)."""
    plain = copy.copy(gen)
    plain.rules = DecodingRules()
    return plain


def untrained_copy(gen: Me5QueryGenerator) -> Me5QueryGenerator:
    """A generator with ``gen``'s vocabulary and architecture, weights as initialised (the warm start)."""
    from xqg_core.models.train_generator import build_model

    meta = gen.meta["train_config"]
    cfg = GeneratorTrainConfig(**{k: v for k, v in meta.items() if k in GeneratorTrainConfig.__dataclass_fields__})
    cfg.langs = tuple(cfg.langs)
    fresh = copy.copy(gen)
    fresh.model = build_model(cfg, gen.model.vocab.numpy(), Me5Adapter(gen)).eval()
    return fresh


def study_sample(root: Path, size: int, seed: int):
    """A fixed sample of a study's xquad-xr passages, the corpus and its me5-small P."""
    from xqg_core.study.artifacts import load_artifacts, resolve_study

    arts = load_artifacts(root)
    passages = resolve_study(arts).corpora["xquad-xr"]
    P = arts.index("me5-small")["P"]
    chosen = np.sort(np.random.default_rng(seed).choice(len(passages), size=min(size, len(passages)), replace=False))
    return arts, passages, P, chosen


def no_copy_self_retrieval(texts: list[str], owner: np.ndarray, passages: list[Passage], P: np.ndarray,
                           me5) -> float:
    """sr@10 of the queries with the words copied from their passage removed
    (:func:`xqg_core.study.copying.split_copied`); a query left empty is a miss."""
    from xqg_core.study.copying import passage_words, split_copied

    stripped = [split_copied(q, passage_words(passages[i].title, passages[i].text))[1] for q, i in zip(texts, owner)]
    keep = np.array([bool(q.strip()) for q in stripped])
    if not keep.any():
        return 0.0
    ranks = self_retrieval_ranks(me5.encode_queries([q for q, k in zip(stripped, keep) if k]), owner[keep], P)
    return float(np.sum(ranks < 10) / len(texts))


def query_metrics(queries: dict[int, dict[str, list[str]]], passages: list[Passage], P: np.ndarray, me5) -> dict:
    """Per language (and macro): self-retrieval @1 / @10 (and @10 without the copied words), langid
    accuracy, distinct-2, copy rate."""
    rows: dict[str, dict[str, float]] = {}
    for lang in LANGS:
        owner = np.array([i for i, by_lang in queries.items() for _ in by_lang.get(lang, [])])
        texts = [q for by_lang in queries.values() for q in by_lang.get(lang, [])]
        ranks = self_retrieval_ranks(me5.encode_queries(texts), owner, P)
        rows[lang] = {
            "sr@1": float(np.mean(ranks < 1)), "sr@10": float(np.mean(ranks < 10)),
            "sr@10 no-copy": no_copy_self_retrieval(texts, owner, passages, P, me5),
            "sr@10 xquad": float(np.mean((ranks < 10)[[passages[i].docid.startswith("xquad-") for i in owner]])),
            "lang_acc": language_accuracy(texts, lang, CLOSED_SET),
            "lang_acc97": language_accuracy(texts, lang),
            "script": script_share(texts, lang),
            "distinct2": distinct_2(me5.tokenize(texts, 64)),
            "copy": copy_rate(texts, [passages[i].text for i in owner]),
        }
    rows["macro"] = {m: float(np.mean([rows[lang][m] for lang in LANGS])) for m in rows[LANGS[0]]}
    return rows


def heldout_loss(gen: Me5QueryGenerator, me5, pairs, seed: int) -> dict[str, float]:
    """Teacher-forced loss with the true / a shuffled / an empty passage (train_generator.heldout_losses)."""
    from xqg_core.models.qg_data import make_batcher, target_ids
    from xqg_core.models.train_generator import heldout_losses

    pairs = [p for p in pairs if p.lang in LANGS and p.lang in gen.model.cfg.langs]  # the same pairs for every model
    cfg = GeneratorTrainConfig(max_source_len=gen.model.cfg.max_source_len, max_target_len=gen.model.cfg.max_target_len)
    batcher = make_batcher(pairs, cache_dir() / "generator-quality", cfg, me5, gen.model.vocab.numpy(), gen.model.cfg.langs)
    return heldout_losses(gen.model, batcher, pairs, target_ids(pairs, me5, cfg.max_target_len), seed)


def mlqa_chrf(gen: Me5QueryGenerator, pairs, contexts: int, n: int, seed: int) -> dict[str, float]:
    refs: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    passages: dict[str, Passage] = {}
    for pair in pairs:
        docid = "mlqa-" + hashlib.sha1(pair.group.encode("utf-8")).hexdigest()[:10]
        passages.setdefault(pair.group, Passage(docid, pair.title, pair.group))
        refs[passages[pair.group].docid][pair.lang].append(pair.target)
    chosen = sorted(passages.values(), key=lambda p: p.docid)[:contexts]
    out = gen.generate(chosen, list(LANGS), n, seed)
    scores = {}
    for li, lang in enumerate(LANGS):
        with_refs = [i for i, p in enumerate(chosen) if refs[p.docid].get(lang)]
        scores[lang] = (chrf([q for i in with_refs for q in out[i][lang]],
                             [refs[chosen[i].docid][lang] for i in with_refs for _ in range(n)])
                        if with_refs else float("nan"))
    return scores


def old_queries_from_parquet(path: Path, passages: list[Passage], chosen: np.ndarray, n: int):
    import pandas as pd

    frame = pd.read_parquet(path)
    frame = frame[(frame.corpus == "xquad-xr") & (frame.i < n)]
    by_docid: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for docid, lang, text in zip(frame.passage_id, frame.lang, frame.text):
        by_docid[docid][lang].append(text)
    return {int(i): dict(by_docid[passages[i].docid]) for i in chosen if passages[i].docid in by_docid}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--generator", default=None, help="me5-qg directory (default: the shipped weights)")
    parser.add_argument("--candidate", action="append", default=[],
                        help="another me5-qg directory measured beside it in the same run (repeatable)")
    parser.add_argument("--old", default=None, help="the first generator's directory, when trained here")
    parser.add_argument("--old-queries", default=str(ARTIFACTS_DIR / "generated_queries.parquet"),
                        help="without --old: a generated_queries.parquet holding the first generator's queries")
    parser.add_argument("--artifacts", default=str(ARTIFACTS_DIR), help="the study whose corpus is searched")
    parser.add_argument("--passages", type=int, default=350, help="study passages in the self-retrieval sample")
    parser.add_argument("--contexts", type=int, default=60, help="held-out MLQA contexts for chrF")
    parser.add_argument("--n", type=int, default=5)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()

    from xqg_core.models.encoders import load_encoder

    me5 = load_encoder("me5-small", device="cpu")
    arts, passages, P, chosen = study_sample(Path(args.artifacts), args.passages, args.seed)
    heldout = build_pairs(GeneratorTrainConfig.from_yaml("configs/generator.yaml")).heldout

    trained = Me5QueryGenerator(args.generator)
    sampled = [f"me5-qg ({trained.directory.name})"]  # the models whose sample queries are printed
    models = {sampled[0]: trained, f"me5-qg{NO_RULES}": without_rules(trained),
              "untrained warm start": untrained_copy(trained)}
    for directory in args.candidate:
        # with and without its rules: the rules were chosen for the first generator
        candidate = Me5QueryGenerator(directory)
        models[f"candidate {Path(directory).name}"] = candidate
        sampled.append(f"candidate {Path(directory).name}")
        models[f"candidate {Path(directory).name}{NO_RULES}"] = without_rules(candidate)
    if args.old:
        models["first me5-qg"] = Me5QueryGenerator(args.old)
    study_rows, losses, chrfs, speed, samples = {}, {}, {}, {}, {}
    sample = [passages[i] for i in chosen]
    for name, gen in models.items():
        t0 = time.perf_counter()
        out = gen.generate(sample, list(LANGS), args.n, args.seed)
        speed[name] = len(sample) * len(LANGS) * args.n / (time.perf_counter() - t0)
        study_rows[name] = query_metrics({int(i): q for i, q in zip(chosen, out)}, passages, P, me5)
        losses[name] = heldout_loss(gen, me5, heldout, args.seed)
        chrfs[name] = mlqa_chrf(gen, heldout, args.contexts, args.n, args.seed)
        if name in sampled:
            samples[name] = [(passages[i].title, {lang: out[k][lang][0] for lang in LANGS})
                             for k, i in enumerate(chosen[:4])]
    if not args.old and Path(args.old_queries).is_file():
        old = old_queries_from_parquet(Path(args.old_queries), passages, chosen, args.n)
        if old:
            study_rows["first me5-qg (its queries in the shipped study)"] = query_metrics(old, passages, P, me5)
    real = {lang: [p.target for p in heldout if p.lang == lang] for lang in LANGS}
    real_acc = {lang: (language_accuracy(real[lang], lang, CLOSED_SET), language_accuracy(real[lang], lang),
                       script_share(real[lang], lang)) for lang in LANGS}
    title_ranks = self_retrieval_ranks(me5.encode_queries([passages[i].title for i in chosen]), chosen, P)

    lines = [
        "## Query generator quality (`python -m benchmarks.generator_quality --write`)",
        "",
        f"Self-retrieval: the {args.n} x {len(LANGS)} queries of {len(chosen)} passages sampled (seed {args.seed}) "
        f"from the shipped study's xquad-xr corpus ({len(passages):,} passages: {sum(p.docid.startswith('xquad-') for p in passages)} "
        "XQuAD, the rest Vital Articles), encoded with me5-small, ranked against the whole corpus; sr@1 / sr@10 = own "
        f"passage first / in the top 10; `sr@10 xquad` over the sample's {sum(passages[i].docid.startswith('xquad-') for i in chosen)} "
        "XQuAD passages alone (no study passage is ever trained on). "
        "lang_acc: `langid` choosing among the seven generation languages and English; lang_acc97: among its 97 "
        "languages (short questions lose to close neighbours: es to gl/ca, ru to bg/uk, hi to mr/ne; the held-out "
        "real questions are the reference row). script: share of a query's letters in its language's script "
        "(copied names lower it). `sr@10 no-copy`: sr@10 with every query word that occurs in its passage's title or text "
        "removed (a query left empty counts as a miss). distinct-2 over mE5 pieces; copy = query found verbatim in its "
        f"passage. Reference: the passage's English title as the query reaches sr@1 {np.mean(title_ranks < 1):.2f}, "
        f"sr@10 {np.mean(title_ranks < 10):.2f}. {machine_line()}.",
        "",
        "| model | metric | " + " | ".join(LANGS) + " | macro |",
        "|---|---|" + "---|" * (len(LANGS) + 1),
    ]
    for name, rows in study_rows.items():
        for metric, fmt in (("sr@1", "{:.3f}"), ("sr@10", "{:.3f}"), ("sr@10 no-copy", "{:.3f}"),
                            ("sr@10 xquad", "{:.3f}"), ("lang_acc", "{:.2f}"),
                            ("lang_acc97", "{:.2f}"), ("script", "{:.2f}"), ("distinct2", "{:.2f}"), ("copy", "{:.1%}")):
            cells = [fmt.format(rows[key][metric]) for key in (*LANGS, "macro")]
            lines.append(f"| {name} | {metric} | " + " | ".join(cells) + " |")
    real_langs = [lang for lang in LANGS if real[lang]]  # MLQA has no Russian
    for k, metric in enumerate(("lang_acc", "lang_acc97", "script")):
        cells = [f"{real_acc[lang][k]:.2f}" if real[lang] else "-" for lang in LANGS]
        cells.append(f"{np.mean([real_acc[lang][k] for lang in real_langs]):.2f}")
        lines.append(f"| real held-out MLQA questions (macro over {len(real_langs)}) | {metric} | "
                     + " | ".join(cells) + " |")
    lines += ["", "Teacher-forced loss per target piece on the held-out MLQA pairs (contexts never trained on), with the "
              "true passage, a shuffled one (a derangement of the held-out contexts) and an empty one; the gap "
              "shuffled - true is what the passage is worth to the decoder. chrF against the held-out MLQA questions "
              f"of {args.contexts} contexts (no Russian in MLQA). Speed: queries per second over the {len(chosen)} "
              "study passages x 7 x 5, batch 8.", "",
              "| model | loss true | shuffled | empty | gap | chrF " + " / ".join(lang for lang in LANGS if lang != "ru")
              + " | queries/s |", "|---|---|---|---|---|---|---|"]
    for name, loss in losses.items():
        chrf_cells = " / ".join(f"{chrfs[name][lang]:.1f}" for lang in LANGS if lang != "ru")
        lines.append(f"| {name} | {loss['true']:.2f} | {loss['shuffled']:.2f} | {loss['empty']:.2f} | "
                     f"{loss['shuffled'] - loss['true']:.2f} | {chrf_cells} | {speed[name]:.1f} |")
    lines += [""]
    for name, model_samples in samples.items():
        lines += [f"Samples ({name}, first query per language):", ""]
        for title, by_lang in model_samples:
            lines.append(f"- *{title}*: " + "; ".join(f"{LANGUAGE_NAMES[lang]}: {by_lang[lang]}" for lang in LANGS))
        lines += [""]
    publish("generator-quality", lines, args.write)


if __name__ == "__main__":
    main()
