"""How often R@kt's token window runs out of ranked passages: the grid ranks the top ``top_k``
(100) passages, and R@kt reads the first k tokens of those only. When the 100 passages hold
fewer than k tokens, the window is shorter than k (the official evaluation behaves the same on a
100-passage prediction file). The shipped corpus's Vital Articles passages are short (median
75 tokens), so this measures, per PLM at alpha = 0: the share of questions whose top 100 hold
fewer than 2,000 / 5,000 tokens, and macro R@2kt / R@5kt with the top 100 against the top 300
(where a 5,000-token window is hardly ever cut), both by the official rule, in one run.

    python -m benchmarks.window_coverage [--write]
"""
from __future__ import annotations

import argparse

import numpy as np

from benchmarks.report import machine_line, publish
from xqg_core.retrieval.evaluate import TokenCache
from xqg_core.retrieval.recall_tokens import RecallAtKTokensMemo
from xqg_core.retrieval.topk import passage_scores, top_k_exact
from xqg_core.study.artifacts import load_artifacts, resolve_study

WIDE = 300


def macro(outcomes: np.ndarray, langs: np.ndarray) -> float:
    """Mean over languages of each language's mean outcome, in percent (NaN: not evaluated)."""
    return float(np.mean([np.nanmean(outcomes[langs == lang]) for lang in dict.fromkeys(langs)]) * 100)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--write", action="store_true", help="update BENCHMARKS.md")
    args = parser.parse_args()
    arts = load_artifacts(None)
    study = resolve_study(arts, None)
    passages, queries = study.corpora["xquad-xr"], study.queries["xquad-xr"]
    top = int(arts.manifest["config"]["top_k"])
    tokenize = TokenCache()
    lengths = np.array([len(tokenize(p.text)) for p in passages])
    langs = np.array([q["lang"] for q in queries])
    rkt = RecallAtKTokensMemo([p.text for p in passages], [q["answers"] for q in queries], tokenize)
    xquad = np.array([p.docid.startswith("xquad-") for p in passages])
    lines = [
        "## R@kt windows and the top 100 (`python -m benchmarks.window_coverage --write`)", "",
        f"Machine: {machine_line()}. The shipped study: {len(passages):,} xquad-xr passages (tokens by the official "
        f"rule's tokenizer: XQuAD median {np.median(lengths[xquad]):.0f}, Vital Articles median "
        f"{np.median(lengths[~xquad]):.0f}, 10th percentile {np.percentile(lengths[~xquad], 10):.0f}), "
        f"{len(queries):,} questions, alpha = 0. The grid ranks the top {top}; R@kt reads their first k tokens, "
        f"so a question whose top {top} hold fewer than k tokens is read over a shorter window. Macro R@kt with "
        f"the top {top} and with the top {WIDE}, the official rule, in this run.", "",
        f"| PLM | median tokens in the top {top} | top {top} < 2,000 tokens | top {top} < 5,000 tokens | "
        f"R@2kt top {top} | R@2kt top {WIDE} | R@5kt top {top} | R@5kt top {WIDE} |",
        "|---|---|---|---|---|---|---|---|"]
    for plm in arts.encoders:
        t = arts.index(plm)
        ranked = top_k_exact(passage_scores(t["Q"], t["P"]), WIDE)[0]
        held = lengths[ranked[:, :top]].sum(1)
        cells = [macro(rkt.outcomes(ranked[:, :k], window), langs) for window in (2000, 5000) for k in (top, WIDE)]
        lines.append(f"| {plm} | {np.median(held):,.0f} | {100 * (held < 2000).mean():.1f}% | "
                     f"{100 * (held < 5000).mean():.1f}% | " + " | ".join(f"{v:.2f}" for v in cells) + " |")
    publish("window-coverage", lines, args.write)


if __name__ == "__main__":
    main()
