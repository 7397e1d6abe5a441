"""Copied words: what a generated query takes from its passage, and the rest."""
from __future__ import annotations

from collections import Counter

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from xqg_core.study.copying import WORD, passage_words, split_copied


def test_copied_words_are_word_tokens_of_the_title_or_text_any_case():
    words = passage_words("Pyramids of Giza", "The Great Pyramid is the oldest.")
    assert split_copied("¿Qué es la GREAT pyramid de Giza?", words) == ("GREAT pyramid Giza", "¿Qué es la de ?")
    assert split_copied("金字塔 Giza 在哪里？", words) == ("Giza", "金字塔 在哪里？")
    assert split_copied("Pyramids", words) == ("Pyramids", "")


@given(st.text(alphabet=st.sampled_from(list("ab AB.?éЖ字1")), max_size=30),
       st.text(alphabet=st.sampled_from(list("ab AB.éЖ字1")), max_size=30))
def test_copy_only_and_no_copy_partition_the_query_words(query, passage):
    words = passage_words("", passage)
    copy_only, no_copy = split_copied(query, words)
    assert Counter(WORD.findall(copy_only)) + Counter(WORD.findall(no_copy)) == Counter(WORD.findall(query))
    assert all(w.casefold() in words for w in WORD.findall(copy_only))
    assert not any(w.casefold() in words for w in WORD.findall(no_copy))


def test_a_query_reduced_to_nothing_is_the_encoders_empty_text(tmp_path):
    """Every passage keeps 7n summands: an empty reduction is encoded like any text (a zero vector
    would let a passage's score grow with its count of non-empty reductions); each distinct
    text is encoded once."""
    from xqg_core.pipeline.stage_encode import encode_unique
    from xqg_core.pipeline.stage_variants import self_retrieval_at_10

    seen = []

    def encode(texts):
        seen.extend(texts)
        return np.array([[len(t), 1.0] for t in texts], dtype=np.float32)

    rows = encode_unique(encode, ["nile", "", "nile", "cairo", ""], tmp_path, "copy-only", chunk=2)
    np.testing.assert_array_equal(rows, [[4, 1], [0, 1], [4, 1], [5, 1], [0, 1]])
    assert sorted(seen) == ["", "cairo", "nile"]
    # self-retrieval counts the empty reduction as a miss even though its vector is not zero
    P = np.array([[0.0, 1.0], [1.0, 0.0]], dtype=np.float32)
    assert self_retrieval_at_10(rows, np.array([0, 0, 0, 0, 0]), P, np.arange(5), np.array([0, 1, 0, 0, 1], bool)) == 0.6


@given(st.lists(st.sampled_from(["", "nile", "cairo", "giza", "el nilo"]), max_size=12),
       st.lists(st.sampled_from(["nile", "el nilo", "luxor"]), max_size=6))
def test_a_reduction_equal_to_a_generated_query_takes_the_encode_stages_row(texts, known_texts):
    """``encode_unique`` with ``known``: every row equals what encoding the text gives, and only
    the texts the encode stage does not hold are encoded (once each)."""
    import tempfile
    from pathlib import Path

    from xqg_core.pipeline.stage_encode import encode_unique

    def vector(t):
        return [len(t), sum(map(ord, t)) % 97, 1.0]

    seen = []

    def encode(batch):
        seen.extend(batch)
        return np.array([vector(t) for t in batch], dtype=np.float32).reshape(len(batch), 3)

    known = (known_texts, np.array([vector(t) for t in known_texts], dtype=np.float32).reshape(-1, 3))
    with tempfile.TemporaryDirectory() as scratch:
        rows = encode_unique(encode, texts, Path(scratch), "reduced", chunk=2, known=known)
    np.testing.assert_array_equal(rows, np.array([vector(t) for t in texts], dtype=np.float32).reshape(-1, 3))
    assert sorted(seen) == sorted(set(texts) - set(known_texts))
