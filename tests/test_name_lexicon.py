from __future__ import annotations

from benchmarks.name_lexicon import learn_lexicon, script_words


def test_a_name_is_paired_with_its_word_and_a_common_word_is_left_out():
    parallel = [("Who founded Moscow?", "Кто основал Москву?"), ("When did Moscow grow?", "Когда выросла Москва?"),
                ("Where is Moscow?", "Где Москва?"), ("Is Moscow big?", "Москва большая?")]
    parallel += [(f"Who wrote book {i}?", f"Кто написал книгу {i}?") for i in range(200)]
    lexicon = learn_lexicon(parallel, "ru")
    assert lexicon["Moscow"][0] == "Москва" and lexicon["Moscow"][2] == 3  # 3 of its 4 pairs spell it "Москва"
    assert "Who" not in lexicon  # in over 2% of the pairs: a question word, not a name


def test_chinese_words_are_the_substrings_of_han_runs():
    assert script_words("zh", "谁是牛顿?") == {"谁是", "是牛", "牛顿", "谁是牛", "是牛顿", "谁是牛顿"}
    assert script_words("hi", "न्यूटन कौन था?") == {"न्यूटन", "कौन", "था"}
