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

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from xqg_core.errors import DataFormatError, XqgError

METRICS_WITH_GOLD = ("R@2kt", "R@5kt", "Recall@20", "Recall@100", "MRR@10")
BLOCK_QUERIES = 1024  # queries encoded and ranked at once: what bounds the memory
# what the Your questions page accepts (the command line takes any file)
MAX_UPLOAD_BYTES = 10 * 2**20
MAX_UPLOAD_QUESTIONS = 5000


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
    repeated = next((qid for qid, count in Counter(out.ids).items() if count > 1), None)
    if repeated is not None:
        raise DataFormatError(path, None, "id", f"question {repeated!r} appears {Counter(out.ids)[repeated]} times; "
                                                "each question is counted once, so give it once")
    # an empty answer is a substring of every window: it would count as a hit wherever ranked
    out.answers = [tuple(a for a in answers if a.strip()) for answers in out.answers]
    return out


LANGUAGE_SAMPLE = 200  # questions read by langid to name a file's language


def language_mismatch(texts: Sequence[str], lang: str, threshold: float = 0.6) -> str | None:
    """A warning when most of the file's questions (a sample of :data:`LANGUAGE_SAMPLE`) read, to
    ``langid``, as another language than ``lang``; None when they agree or no language dominates."""
    from collections import Counter

    from xqg_core.explore.live import detect_language

    sample = [t for t in texts[:LANGUAGE_SAMPLE] if t.strip()]
    if not sample:
        return None
    found, count = Counter(detect_language(t)[0] for t in sample).most_common(1)[0]
    if found != lang and count / len(sample) >= threshold:
        return (f"{count} of the first {len(sample)} questions read as '{found}' (langid), not '{lang}': "
                "check the language you chose")
    return None


def evaluate_query_set(arts, study, plm: str, encoder, queries: QuerySet, lang: str, alphas: Sequence[float],
                       n: int, block: int = BLOCK_QUERIES, per_question: bool = False) -> dict:
    """``{"benchmark", "plm", "lang", "num_queries", "rows": [{alpha, n, metric, value, p_value}]}``;
    with ``per_question`` also ``"alphas"`` and ``"outcomes"`` (metric -> [alpha][question], None
    where not evaluated), in the order of ``queries.ids``.

    Queries are encoded, scored and evaluated ``block`` at a time: memory holds one block's
    vectors and score matrices, the passages' tokens, and per query one outcome per alpha
    and metric (4 bytes each), whatever the size of the file."""
    from xqg_core.retrieval.evaluate import TokenCache
    from xqg_core.retrieval.significance import significance

    if not arts.index_files(plm):
        raise XqgError(f"the study has no index for {plm!r}; it holds {', '.join(arts.encoders)}")
    t = arts.index(plm)
    if not 1 <= n <= t["S"].shape[0]:
        raise XqgError(f"--n must be 1 to {t['S'].shape[0]} for this study")
    P, S_n = t["P"], t["S"][n - 1]
    texts = [p.text for p in study.corpora["xquad-xr"]]
    num_gold = np.array([len(g) for g in queries.gold], dtype=np.float64)
    metrics = METRICS_WITH_GOLD if num_gold.any() else ("R@2kt", "R@5kt")
    cell_alphas = sorted({0.0, *alphas})
    top = int(arts.manifest["config"]["top_k"])
    outcomes = {m: np.full((len(cell_alphas), len(queries.ids)), np.nan, dtype=np.float32) for m in metrics}
    tokens, evaluated = TokenCache(), 0
    for start in range(0, len(queries.ids), block):
        rows = slice(start, start + block)
        cells, skipped = block_outcomes(encoder, queries, rows, P, S_n, texts, num_gold[rows], cell_alphas, top, tokens)
        evaluated += int((~skipped).sum())
        for a, cell in enumerate(cells):
            for metric in metrics:
                outcomes[metric][a, rows] = cell[metric]
    resamples = int(arts.manifest["config"]["significance_resamples"])
    rows = []
    for a, alpha in enumerate(cell_alphas):
        for metric in metrics:
            v, b = outcomes[metric][a], outcomes[metric][0]
            value = 100 * float(np.nanmean(v)) if np.any(~np.isnan(v)) else None  # JSON has no NaN
            p = 1.0 if alpha == 0 else significance(b, v, resamples)
            rows.append({"alpha": alpha, "n": n, "metric": metric, "value": None if value is None else round(value, 4),
                         "p_value": round(p, 6) if np.isfinite(p) else None})
    out = {"benchmark": "xquad-xr", "plm": plm, "lang": lang, "num_queries": len(queries.ids),
           "evaluated_r_at_kt": evaluated, "rows": rows}
    if per_question:
        out["alphas"] = cell_alphas
        out["outcomes"] = {m: [[None if np.isnan(x) else float(x) for x in row] for row in v] for m, v in outcomes.items()}
    return out


def block_outcomes(encoder, queries: QuerySet, rows: slice, P: np.ndarray, S_n: np.ndarray, texts: list[str],
                   num_gold: np.ndarray, alphas: Sequence[float], top: int, tokens) -> tuple[list[dict], np.ndarray]:
    """Per alpha, the per-query outcomes of one block of queries (and which skip R@kt)."""
    from xqg_core.retrieval.cells import retrieval_cell
    from xqg_core.retrieval.ranking import mixed_scores, top_k
    from xqg_core.retrieval.recall_tokens import RecallAtKTokensMemo

    Q = np.asarray(encoder.encode_queries(queries.texts[rows]), dtype=np.float32)
    QP, QS = Q @ P.T, Q @ S_n.T
    gold = queries.gold[rows]
    rkt = RecallAtKTokensMemo(texts, queries.answers[rows], tokens)
    return [retrieval_cell(top_k(mixed_scores(QP, QS, alpha), top), gold, num_gold, rkt) for alpha in alphas], rkt.skipped
