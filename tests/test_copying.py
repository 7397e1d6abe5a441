"""Copied words: what a generated query takes from its passage, and the rest."""
from __future__ import annotations

from collections import Counter

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
