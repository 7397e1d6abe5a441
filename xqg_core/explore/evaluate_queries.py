"""Any query set against a shipped study's xquad-xr index (``python -m xqg_core evaluate-queries``).

The questions are encoded with the chosen PLM (query side) and ranked against the
study's passages, augmented as the grid does, ``p' = (1 - alpha) p + alpha S_n(p)``, for
alpha = 0 and each asked alpha. Metrics: R@2kt and R@5kt (the official rule, English
answers), and, when the gold passages are known, Recall@20/100 and MRR@10; each alpha's
paired randomization test is against alpha = 0 over the same questions.

Accepted files:

- XQuAD / SQuAD format (``{"data": [...]}``) whose question ids are the study's XQuAD ids:
  the English answers and gold passages come from the study (the file's own answers are
  in its language and are not used);
- XOR-Retrieve jsonl (``id, question, answers, lang``) with English answers: R@kt only.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from xqg_core.errors import DataFormatError, XqgError

METRICS_WITH_GOLD = ("R@2kt", "R@5kt", "Recall@20", "Recall@100", "MRR@10")


@dataclass
class QuerySet:
    ids: list[str]
    texts: list[str]
    answers: list[tuple[str, ...]]  # English, for R@kt
    gold: list[list[int]]  # passage indices in the study's corpus; empty when unknown


def read_query_file(path: str | Path, lang: str, study) -> QuerySet:
    """The questions of ``path`` in ``lang`` with their English answers (and gold passages)."""
    from xqg_core.data.loaders import load_squad, load_xor_queries
    from xqg_core.data.records import parse_json, read_text

    path = Path(path)
    text = read_text(path)
    try:  # one JSON document with a "data" list: SQuAD format; anything else is read as JSON lines
        squad = isinstance(doc := parse_json(path, text), dict) and "data" in doc
    except DataFormatError:
        squad = False
    passages = study.corpora["xquad-xr"]
    if squad:
        position = {p.docid: i for i, p in enumerate(passages)}
        known = {q["id"].rsplit("-", 1)[0]: q for q in study.queries["xquad-xr"]}
        out = QuerySet([], [], [], [])
        for q in load_squad(path, lang):
            if q.id not in known:
                raise DataFormatError(path, None, "id", f"question {q.id!r} is not an XQuAD question of this study")
            out.ids.append(q.id)
            out.texts.append(q.question)
            out.answers.append(tuple(known[q.id]["answers"]))
            out.gold.append([position[d] for d in known[q.id]["gold"]])
    else:
        questions = [q for q in load_xor_queries(path) if q.lang == lang]
        out = QuerySet([q.id for q in questions], [q.question for q in questions],
                       [tuple(q.answers) for q in questions], [[] for _ in questions])
    if not out.ids:
        raise DataFormatError(path, None, None, f"no questions in {lang!r}")
    return out


def evaluate_query_set(arts, study, plm: str, encoder, queries: QuerySet, lang: str, alphas: Sequence[float],
                       n: int) -> dict:
    """``{"benchmark", "plm", "lang", "num_queries", "rows": [{alpha, n, metric, value, p_value}]}``."""
    from xqg_core.retrieval.cells import retrieval_cell
    from xqg_core.retrieval.ranking import mixed_scores, top_k
    from xqg_core.retrieval.recall_tokens import RecallAtKTokensMemo
    from xqg_core.retrieval.significance import significance

    if not arts.index_files(plm):
        raise XqgError(f"the study has no index for {plm!r}; it holds {', '.join(arts.encoders)}")
    t = arts.index(plm)
    if not 1 <= n <= t["S"].shape[0]:
        raise XqgError(f"--n must be 1 to {t['S'].shape[0]} for this study")
    P, S_n = t["P"], t["S"][n - 1]
    Q = np.asarray(encoder.encode_queries(queries.texts), dtype=np.float32)
    QP, QS = Q @ P.T, Q @ S_n.T
    passages = study.corpora["xquad-xr"]
    rkt = RecallAtKTokensMemo([p.text for p in passages], queries.answers)
    num_gold = np.array([len(g) for g in queries.gold], dtype=np.float64)
    metrics = METRICS_WITH_GOLD if num_gold.any() else ("R@2kt", "R@5kt")
    top = int(arts.manifest["config"]["top_k"])
    resamples = int(arts.manifest["config"]["significance_resamples"])
    cells = {alpha: retrieval_cell(top_k(mixed_scores(QP, QS, alpha), top), queries.gold, num_gold, rkt)
             for alpha in sorted({0.0, *alphas})}
    rows = []
    for alpha, cell in cells.items():
        for metric in metrics:
            v, b = cell[metric], cells[0.0][metric]
            value = 100 * float(np.nanmean(v)) if np.any(~np.isnan(v)) else float("nan")
            rows.append({"alpha": alpha, "n": n, "metric": metric, "value": round(value, 4),
                         "p_value": 1.0 if alpha == 0 else round(significance(b, v, resamples), 6)})
    return {"benchmark": "xquad-xr", "plm": plm, "lang": lang, "num_queries": len(queries.ids),
            "evaluated_r_at_kt": int((~rkt.skipped).sum()), "rows": rows}
