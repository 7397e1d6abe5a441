"""Stage ``grid-{benchmark}``: every PLM x variant x alpha x n cell of a benchmark.

Reads ``corpora/{benchmark}/queries.jsonl`` (and ``pairs.jsonl``), the corpus, and per PLM
``index-{plm}-{corpus}`` and ``queries-{plm}-{benchmark}``; writes ``results.parquet`` (every
cell's rows, xQG and the controls of :mod:`xqg_core.study.controls`),
``splits.parquet`` (xquad-xr: every cell on the dev and test halves of the articles),
``outcomes-{plm}.safetensors`` (per-query outcomes), ``parts-{plm}.safetensors`` (pawsx-adv
score parts), ``cell_seconds.json`` and, when sharded, ``shard_reports.json``. Refuses a
grid whose curves jump at the first alpha (:func:`xqg_core.study.grid.continuity_jumps`).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

import numpy as np

from xqg_core.checksums import file_sha1, fingerprint
from xqg_core.errors import XqgError
from xqg_core.io import write_text_atomic
from xqg_core.models.encoders import supported_languages
from xqg_core.paths import slug
from xqg_core.pipeline.runner import StageResult
from xqg_core.study.config import CORPUS_OF
from xqg_core.study.inputs import gold_positions, read_corpus, read_jsonl
from xqg_core.study.sharded_grid import LazyTexts

if TYPE_CHECKING:
    from xqg_core.pipeline.context import Pipeline

CONTROLS = ["shuffled", "copy-only", "no-copy", "human", "only-L", "without-L"]
# the full-grid controls of xquad-xr (copy-only / no-copy need the variants stage; human, XQuAD's
# own questions); other benchmarks, and a sharded grid, run the shuffled control
XQUAD_CONTROLS = ("shuffled", "copy-only", "no-copy", "human")
STATISTICS = "v3: bootstrap CI, MDE, Holm p_adj, dev/test halves"  # in the fingerprint: rows change with it


def full_controls(pipe: Pipeline, benchmark: str, sharded: bool) -> tuple[str, ...]:
    if benchmark == "xquad-xr" and not sharded and CORPUS_OF[benchmark] in pipe.variant_corpora():
        return XQUAD_CONTROLS
    return ("shuffled",)


def run(pipe: Pipeline, benchmark: str) -> StageResult:
    cfg = pipe.cfg
    corpus = CORPUS_OF[benchmark]
    qfile = pipe.out("corpora") / benchmark / "queries.jsonl"
    inputs = {"queries": file_sha1(qfile), "corpus": file_sha1(pipe.corpus_path(corpus)),
              "index": {plm: pipe.stage_fp(f"index-{slug(plm)}-{corpus}") for plm in cfg.encoders},
              "encoded": {plm: pipe.stage_fp(f"queries-{slug(plm)}-{benchmark}") for plm in cfg.encoders},
              "alphas": cfg.alphas, "top_k": cfg.top_k, "resamples": cfg.significance_resamples,
              "continuity_tolerance": cfg.continuity_tolerance,
              "supported": {plm: supported_languages(plm) for plm in cfg.encoders},
              "controls": CONTROLS, "statistics": STATISTICS, "seed": cfg.seed,
              "variants": {plm: pipe.stage_fp(f"variants-{slug(plm)}-{corpus}") for plm in cfg.encoders
                           if corpus in pipe.variant_corpora()}}

    def fn(out: Path, scratch: Path) -> None:
        import pandas as pd
        from safetensors.numpy import save_file

        from xqg_core.retrieval.cells import pawsx_item_outcomes
        from xqg_core.retrieval.significance import significance
        from xqg_core.study.controls import grid_with_controls
        from xqg_core.study.grid import macro_groups, pawsx_score_parts
        from xqg_core.study.intervals import Intervals
        from xqg_core.study.splits import split_masks

        queries = read_jsonl(qfile)
        langs = np.asarray([q["lang"] for q in queries])
        runners = GridRunners(pipe, benchmark, queries, scratch)
        controls = full_controls(pipe, benchmark, runners.sharded)
        rows, timings = [], {}
        for plm in cfg.encoders:
            run_grid = runners.for_plm(plm)
            supported = supported_languages(plm)
            masks = {lang: langs == lang for lang in set(langs.tolist())}
            masks |= {name: m for name, (_, m) in macro_groups(langs, list(dict.fromkeys(langs.tolist())),
                                                                supported).items()}
            intervals = (Intervals(langs, supported, split_masks([q["gold"] for q in queries], cfg.seed),
                                   cfg.significance_resamples, cfg.seed) if benchmark == "xquad-xr" else None)
            plm_rows, outcomes, seconds = grid_with_controls(
                run_grid, cfg.n_max, cfg.generation_langs, cfg.alphas, masks,
                pawsx_item_outcomes if benchmark == "pawsx-adv" else dict, controls,
                lambda a, b: significance(a, b, cfg.significance_resamples), intervals)
            rows += plm_rows
            timings[plm] = seconds["xqg"]
            if benchmark == "pawsx-adv":
                Q, P, S = runners.arrays[plm]  # as the grid read them
                gold, twin = (np.array([q[k] for q in queries]) for k in ("gold", "twin"))
                save_file({"parts": pawsx_score_parts(Q, P, S, gold, twin)}, str(out / f"parts-{slug(plm)}.safetensors"))
                rows += pair_classification_rows(plm, pipe.out("corpora") / benchmark / "pairs.jsonl",
                                                 pipe.out(f"queries-{slug(plm)}-{benchmark}"))
            save_file(outcomes, str(out / f"outcomes-{slug(plm)}.safetensors"))
        if runners.shard_reports:
            write_text_atomic(out / "shard_reports.json", json.dumps(runners.shard_reports))
        halves = pd.DataFrame([r for r in rows if "split" in r])
        results = pd.DataFrame([r for r in rows if "split" not in r])
        check_continuity(results[results["benchmark"] == benchmark], benchmark, cfg.continuity_tolerance)
        results.to_parquet(out / "results.parquet", index=False)
        if len(halves):
            halves.to_parquet(out / "splits.parquet", index=False)
        write_text_atomic(out / "cell_seconds.json", json.dumps(timings))

    return pipe.run_stage(f"grid-{benchmark}", inputs, fn)


class GridRunners:
    """``run_grid(variant, alphas)`` of each PLM for one benchmark: in memory (Q P^T shared by
    every variant), or ranked shard by shard on the pipeline's executor (:func:`grid_is_sharded`)."""

    def __init__(self, pipe: Pipeline, benchmark: str, queries: list[dict], scratch: Path):
        from xqg_core.retrieval.recall_tokens import RecallAtKTokensMemo

        self.pipe, self.benchmark, self.queries, self.scratch = pipe, benchmark, queries, scratch
        self.corpus = CORPUS_OF[benchmark]
        self.langs = np.asarray([q["lang"] for q in queries])
        self.retrieval = benchmark != "pawsx-adv"
        self.sharded = self.retrieval and grid_is_sharded(pipe, self.corpus, len(queries))
        self.shard_reports: dict[str, list[dict]] = {}
        self.arrays: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}  # plm -> Q, P, S (in memory)
        if self.retrieval:
            path = pipe.corpus_path(self.corpus)
            # sharded: texts read by position when a token window reaches them, never all at once
            texts = LazyTexts(path) if self.sharded else read_corpus(path)
            self.gold_idx = gold_positions(queries, texts)
            # tokenised passages and memoised outcomes serve every PLM and variant
            self.rkt = RecallAtKTokensMemo(texts if self.sharded else [p.text for p in texts],
                                           [q["answers"] for q in queries])

    def for_plm(self, plm: str) -> Callable:
        from xqg_core.retrieval.ranking import PassageSide, dense_ranking
        from xqg_core.study.controls import variant_sums
        from xqg_core.study.grid import pawsx_grid, retrieval_grid

        cfg, supported = self.pipe.cfg, supported_languages(plm)
        if self.sharded:
            return sharded_grid_runner(self.pipe, plm, self.benchmark, self.corpus, self.langs, self.gold_idx,
                                       self.rkt, self.scratch, supported, self.shard_reports)
        index = self.pipe.out(f"index-{slug(plm)}-{self.corpus}")
        Q = np.load(self.pipe.out(f"queries-{slug(plm)}-{self.benchmark}") / "Q.npy")
        P, S, S_lang = (np.load(index / name) for name in ("P.npy", "S.npy", "S_lang.npy"))
        self.arrays[plm] = (Q, P, S)
        extra = {}
        if self.corpus in self.pipe.variant_corpora():
            variants = self.pipe.out(f"variants-{slug(plm)}-{self.corpus}")
            extra = {"copy-only": variants / "S_copy.npy", "no-copy": variants / "S_nocopy.npy"}

        def sums(variant: str) -> np.ndarray:  # a control's sums are read or built once per call
            if variant in extra:
                return np.load(extra[variant])
            return variant_sums(variant, S, S_lang, cfg.generation_langs, cfg.seed)

        if not self.retrieval:
            gold, twin, label = (np.array([q[k] for q in self.queries]) for k in ("gold", "twin", "label"))
            return lambda variant, alphas: pawsx_grid(plm, Q, P, sums(variant), self.langs, gold, twin, label,
                                                      alphas, cfg.significance_resamples, supported)
        side = PassageSide.build(Q, P, cfg.top_k, cfg.score_tile)  # Q P^T: shared by every variant

        def run_grid(variant: str, alphas: Sequence[float]):
            if variant == "human":
                ranked, n_max = self.human_ranking(Q, S, side), len(S)
            else:
                S_v = sums(variant)
                ranked, n_max = dense_ranking(Q, S_v, side, cfg.score_tile), len(S_v)
            return retrieval_grid(self.benchmark, plm, ranked, n_max, len(P), self.langs, self.gold_idx, self.rkt,
                                  alphas, cfg.significance_resamples, supported)

        return run_grid


    def human_ranking(self, Q: np.ndarray, S: np.ndarray, side) -> Callable:
        """``ranked(alpha, n)`` of the human upper bound, cross-fitted: a query of fold f is ranked
        against the passages augmented with the other fold's questions
        (:func:`xqg_core.study.splits.human_sums`)."""
        from xqg_core.retrieval.ranking import dense_ranking
        from xqg_core.study.splits import cross_fit_folds, human_sums

        cfg = self.pipe.cfg
        folds = cross_fit_folds([q["id"] for q in self.queries], [q["gold"] for q in self.queries], cfg.seed)
        H0, H1 = human_sums(Q, self.langs, self.gold_idx, folds, S, cfg.generation_langs)
        against_h0, against_h1 = (dense_ranking(Q, H, side, cfg.score_tile) for H in (H0, H1))
        fold1 = (folds == 1)[:, None]
        return lambda alpha, n: np.where(fold1, against_h0(alpha, n), against_h1(alpha, n))


def check_continuity(results, benchmark: str, tolerance: float) -> None:
    """Refuse a grid whose macro values jump at the first alpha far more steeply than over the
    next step: scores are continuous in alpha, so such a jump is a tie artifact, not an effect."""
    from xqg_core.study.grid import continuity_jumps

    jumps = continuity_jumps(results, tolerance)
    if jumps.empty:
        return
    j = jumps.iloc[int(jumps["jump"].abs().argmax())]
    raise XqgError(f"grid-{benchmark}: {len(jumps)} macro values jump by >= {tolerance:g} "
                   f"points between alpha = 0 and alpha = {j['alpha']:g}, much more steeply than over the "
                   f"next step (largest: {j['plm']} n={j['n']} {j['metric']} {j['at_0']:.2f} -> "
                   f"{j['at_alpha']:.2f}, next step {j['next_step']:+.2f}); scores are continuous in alpha, "
                   "so look for ties at alpha = 0 (duplicate texts in the corpus) before reading this as "
                   "an effect")


def grid_is_sharded(pipe: Pipeline, corpus: str, num_queries: int) -> bool:
    """The grid ranks shard by shard on a distributed executor, and wherever the whole score
    matrices would not fit (the paper's 18M passages); else it keeps them in memory."""
    from xqg_core.study.grid import MAX_SCORE_ELEMENTS

    num_passages = len(np.load(pipe.out(f"index-{slug(pipe.cfg.encoders[0])}-{corpus}") / "P.npy", mmap_mode="r"))
    return (pipe.executor.name != "local"
            or num_queries * num_passages * (pipe.cfg.n_max + 1) > MAX_SCORE_ELEMENTS)


def sharded_grid_runner(pipe: Pipeline, plm: str, benchmark: str, corpus: str, langs: np.ndarray,
                        gold_idx: list[list[int]], rkt, scratch: Path, supported, reports: dict[str, list[dict]]):
    """``run_grid(variant, alphas)`` of a retrieval benchmark, ranked by grid shards
    (:mod:`xqg_core.study.sharded_grid`) on the pipeline's executor; shard rankings are kept in
    the stage's scratch, so a killed grid resumes with the shards not yet ranked. Each
    job's report (seconds, memory) goes to ``reports[plm/variant]``."""
    from xqg_core.study.grid import retrieval_grid
    from xqg_core.study.sharded_grid import sharded_ranking

    cfg = pipe.cfg
    index = pipe.out(f"index-{slug(plm)}-{corpus}")
    q_file = pipe.out(f"queries-{slug(plm)}-{benchmark}") / "Q.npy"
    num_passages = len(np.load(index / "P.npy", mmap_mode="r"))

    def run_grid(variant: str, alphas: Sequence[float]):
        where = scratch / slug(plm) / fingerprint({"alphas": list(alphas)})[:10]
        ids, jobs = sharded_ranking(pipe.executor, q_file, index, variant, alphas, cfg.top_k,
                                    cfg.grid_shard_passages, where, cfg.generation_langs, cfg.seed, cfg.score_tile)
        reports.setdefault(f"{slug(plm)}/{variant}", []).extend(jobs)
        position = {float(a): i for i, a in enumerate(alphas)}
        return retrieval_grid(benchmark, plm, lambda alpha, n: ids[position[float(alpha)], n - 1], ids.shape[1],
                              num_passages, langs, gold_idx, rkt, alphas, cfg.significance_resamples, supported)

    return run_grid


def pair_classification_rows(plm: str, pairs_file: Path, encoded: Path) -> list[dict]:
    """Standard PAWS-X pair classification: cosine(s1, s2) > t, t tuned per language on dev."""
    from xqg_core.retrieval.cells import cosine_rows, tune_threshold

    if not pairs_file.is_file():
        return []
    pairs = read_jsonl(pairs_file)
    sim = cosine_rows(np.load(encoded / "pair_s1.npy"), np.load(encoded / "pair_s2.npy"))
    split = np.array([p["split"] for p in pairs])
    lang = np.array([p["lang"] for p in pairs])
    label = np.array([p["label"] for p in pairs])
    rows, accs = [], []
    for code in dict.fromkeys(lang):
        dev, test = (split == "dev") & (lang == code), (split == "test") & (lang == code)
        if not dev.any() or not test.any():
            continue
        t = tune_threshold(sim[dev], label[dev])
        acc = 100 * float(np.mean((sim[test] > t) == (label[test] == 1)))
        accs.append(acc)
        common = dict(benchmark="pawsx-pair", plm=plm, alpha=0.0, n=0, lang=code, p_value=float("nan"))
        rows.append({**common, "metric": "pair_acc", "value": acc, "num_queries": int(test.sum())})
        rows.append({**common, "metric": "threshold", "value": t, "num_queries": int(dev.sum())})
    if accs:
        rows.append(dict(benchmark="pawsx-pair", plm=plm, alpha=0.0, n=0, lang="avg", metric="pair_acc",
                         value=float(np.mean(accs)), p_value=float("nan"), num_queries=int((split == "test").sum())))
    return rows
