"""The generator-quality benchmark's measures: the instrument that decides whether a generator ships."""
from __future__ import annotations

import numpy as np
import pytest

from benchmarks.generator_quality import (
    chrf,
    copy_rate,
    distinct_2,
    language_accuracy,
    no_copy_self_retrieval,
    script_share,
    self_retrieval_ranks,
)
from xqg_core.data.records import Passage


def test_a_tie_with_another_passage_counts_against_the_query():
    P = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    queries = np.array([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]])
    # query 0 ties passages 0 and 1: rank 1, not 0; query 1 finds passage 2 first;
    # query 2 (owner 0) scores 0.6 there, below passage 2's 0.8 and tied with passage 1
    assert self_retrieval_ranks(queries, np.array([0, 2, 0]), P).tolist() == [1, 0, 2]


def test_copy_rate_ignores_the_question_mark_and_empty_queries():
    passages = ["Paris is the capital of France.", "Berlin is large."]
    assert copy_rate(["the capital of France?", "Wo ist Berlin?"], passages) == 0.5
    assert copy_rate(["capital of France？", "   "], passages) == 1.0  # full-width mark; an empty query is not counted
    assert copy_rate([], []) == 0.0


def test_distinct_2_is_unique_bigrams_over_all_bigrams():
    assert distinct_2([[1, 2, 3], [1, 2, 4]]) == 3 / 4  # (1,2) twice, (2,3), (2,4)
    assert distinct_2([[7], []]) == 0.0


def test_script_share_is_the_share_of_letters_in_the_language_script():
    assert script_share(["Кто такой Ньютон?"], "ru") == 1.0
    # 8 Cyrillic letters and 6 Latin ones ("Newton"); digits and punctuation are not letters
    assert script_share(["Кто такой Newton 1687?"], "ru") == pytest.approx(8 / 14)
    assert script_share(["?"], "ru") == 1.0  # no letters
    assert np.isnan(script_share([], "ru"))


def test_chrf_scores_a_hypothesis_against_all_its_references():
    assert chrf(["Who wrote Hamlet?"], [["Who wrote Hamlet?"]]) == pytest.approx(100.0)
    one = chrf(["Who wrote Hamlet?"], [["Who is the author of Hamlet?"]])
    # a second reference that matches lifts the score; a ragged reference list is padded
    both = chrf(["Who wrote Hamlet?", "Where is Rome?"], [["Who is the author of Hamlet?", "Who wrote Hamlet?"],
                                                        ["Where is Rome?"]])
    assert 0 < one < 100 and both == pytest.approx(100.0)


def test_language_accuracy_among_a_closed_set():
    queries = ["¿Quién escribió el libro más famoso de la literatura española?", "Wer hat dieses Buch geschrieben?"]
    assert language_accuracy(queries, "es", ("es", "de", "en")) == 0.5
    assert np.isnan(language_accuracy([], "es", ("es", "en")))


class BagOfWords:
    """A query encoder over a fixed word list: each query a normalised count vector."""

    def __init__(self, vocabulary: list[str]):
        self.index = {w: i for i, w in enumerate(vocabulary)}

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), len(self.index)))
        for row, text in enumerate(texts):
            for word in text.casefold().replace("?", " ").split():
                if word in self.index:
                    out[row, self.index[word]] += 1
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norms == 0, 1, norms)


def test_no_copy_self_retrieval_ranks_the_queries_without_their_passage_words():
    fillers = [f"filler{i}" for i in range(10)]  # ten more passages: a query with no signal ranks past the top 10
    encoder = BagOfWords(["newton", "gravity", "ньютон", "darwin", "дарвин", *fillers])
    passages = [Passage("p0", "Isaac Newton", "Newton described gravity."),
                Passage("p1", "Charles Darwin", "Darwin wrote on evolution."),
                *(Passage(f"f{i}", word, word) for i, word in enumerate(fillers))]
    P = encoder.encode_queries(["newton gravity ньютон", "darwin дарвин", *fillers])
    queries = ["Кто такой Newton?",    # only the copied name carries it
               "Что открыл Ньютон?",   # its own script names Newton
               "Newton gravity",       # all copied: left empty
               "Кто такой Дарвин?"]
    owner = np.array([0, 0, 0, 1])
    assert (self_retrieval_ranks(encoder.encode_queries(queries), owner, P) == 0).all()
    # copied words removed: query 0 keeps no known word and ties all 12 passages (rank 11, a
    # miss); query 2 is empty and counts as a miss without being encoded
    assert no_copy_self_retrieval(queries, owner, passages, P, encoder) == 0.5
    assert no_copy_self_retrieval(["Newton", "Darwin"], np.array([0, 1]), passages, P, encoder) == 0.0
