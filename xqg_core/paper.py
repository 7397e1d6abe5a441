"""The paper's reported numbers, for side-by-side display only (never mixed with this study's).

Zhuang, Wang, Ren, Kung, Zuccon, Koopman: "Augmenting Passage Representations with Query
Generation for Enhanced Cross-Lingual Dense Retrieval", SIGIR 2023 (arXiv 2305.03950),
XOR-TyDi dev, R@kt in percent; per-language rows as reproduced by the public repository
github.com/ielab/xQG4xDR (mBERT xDR, alpha = 0.01, 5 queries x 7 languages per passage).
"""
from __future__ import annotations

PAPER_CITATION = ("Zhuang et al., Augmenting Passage Representations with Query Generation for Enhanced "
                  "Cross-Lingual Dense Retrieval, SIGIR 2023 (arXiv 2305.03950)")
PAPER_SETTING = ("XOR-TyDi dev (1,928 questions in ar, bn, fi, ja, ko, ru, te) against 18M English Wikipedia "
                 "passages; mBERT xDR; mT5-base generator; alpha = 0.01; 5 queries per language and passage")
PAPER_LANGS = ("ar", "bn", "fi", "ja", "ko", "ru", "te")

# metric -> system -> values in PAPER_LANGS order, then the macro average
PAPER_XOR_TYDI = {
    "R@2kt": {
        "mBERT xDR": (41.10, 49.01, 52.23, 37.34, 48.07, 33.33, 48.32, 44.20),
        "mBERT xDR + xQG": (42.39, 54.93, 54.14, 33.61, 52.28, 33.76, 52.52, 46.23),
    },
    "R@5kt": {
        "mBERT xDR": (49.19, 57.57, 58.60, 42.74, 57.54, 41.35, 55.88, 51.84),
        "mBERT xDR + xQG": (51.46, 60.53, 58.28, 43.57, 58.60, 40.93, 60.08, 53.35),
    },
}
# averages stated in the paper's text (R@2kt)
PAPER_AVERAGES_R2KT = {"mBERT xDR": (44.1, 46.2), "XLM-R xDR": (27.5, 29.8), "mBERT zero-shot (NQ)": (33.0, 36.0)}


def paper_table(metric: str):
    """The paper's per-language table of ``metric`` as a DataFrame (rows: systems)."""
    import pandas as pd

    rows = PAPER_XOR_TYDI[metric]
    return pd.DataFrame(rows, index=[*PAPER_LANGS, "avg"]).T

# The paper's alpha (its code defaults to 0.02): the value every view shows first.
PAPER_ALPHA = 0.01
