from __future__ import annotations

import json

import pytest

from xqg_core.data import loaders as D
from xqg_core.data.records import Passage
from xqg_core.errors import DataFormatError, MissingResourceError


# ----------------------------------------------------------------------------- real files
def test_xor_dev_counts_and_lang_strip(data_dir):
    dev = D.load_xor_queries(data_dir / "xor_tydi/xor_dev_retrieve_eng_span_v1_1.jsonl")
    assert len(dev) == 2110
    counts = {}
    for q in dev:
        counts[q.lang] = counts.get(q.lang, 0) + 1
    assert counts == {"ar": 350, "bn": 312, "fi": 360, "ja": 296, "ko": 299, "ru": 255, "te": 238}
    evaluated = {}
    for q in dev:
        if any(a not in ("yes", "no") for a in q.answers):
            evaluated[q.lang] = evaluated.get(q.lang, 0) + 1
    # the paper's per-language N (hits / N), 1,928 in all: the official rule skips 182
    assert evaluated == {"ar": 309, "bn": 304, "fi": 314, "ja": 241, "ko": 285, "ru": 237, "te": 238}


def test_xor_train_arabic_quirk_is_stripped(data_dir):
    train = D.load_xor_queries(data_dir / "xor_tydi/xor_train_retrieve_eng_span.jsonl")
    assert len(train) == 15250
    langs = {q.lang for q in train}
    assert "ar" in langs and " ar" not in langs


def test_xor_translations_are_parallel(data_dir):
    pairs = D.load_xor_translations(data_dir, "ja")
    assert len(pairs) > 4000
    en, ja = pairs[0]
    assert en.isascii() and not ja.isascii()


def test_pawsx_dev_ns_rows_are_missing(data_dir):
    de = D.load_pawsx(data_dir, "dev", "de")
    assert len(de) == 2000 and de[0].row == 1
    ns_rows = [p for p in de if p.sentence1 is None or p.sentence2 is None]
    assert len(ns_rows) == 68  # the data README's count for German dev
    assert all(p.label in (0, 1) for p in de)
    assert not any(p.sentence1 and p.sentence1.endswith("\r") for p in de)  # CRLF handled


def test_pawsx_test_uses_derived_labels(data_dir):
    en = D.load_pawsx(data_dir, "test", "en")
    unknown = [p.row for p in en if p.label is None]
    assert unknown == [104, 530, 694, 748, 1837, 1921]
    assert en[1].label == 0 and en[0].label == 1  # rows 1 and 2 of test-labels-derived.tsv


def test_pawsx_hf_layout_with_header(tmp_path):
    f = tmp_path / "dev_2k.tsv"
    f.write_text("id\tsentence1\tsentence2\tlabel\n7\tA b.\tB a.\t0\n9\tNS\tC.\t1\n", encoding="utf-8")
    pairs = D.load_pawsx_file(f, "en")
    assert [(p.row, p.pair_id, p.sentence1, p.label) for p in pairs] == [(1, "7", "A b.", 0), (2, "9", None, 1)]


def test_squad_xquad_is_parallel(data_dir):
    en = D.load_squad(data_dir / "xquad/xquad.en.json", "en")
    ar = D.load_squad(data_dir / "xquad/xquad.ar.json", "ar")
    assert len(en) == len(ar) == 1190
    assert len({q.paragraph_id for q in en}) == 240
    assert [q.id for q in en] == [q.id for q in ar]
    first = en[0]
    assert first.context[first.answer_starts[0]:].startswith(first.answers[0])


def test_mlqa_and_tydi_load(data_dir):
    hi = D.load_squad(data_dir / "mlqa_dev/dev-context-en-question-hi.json", "hi")
    assert len(hi) == 507
    te = D.load_squad(data_dir / "tydiqa_goldp/dev/tydiqa.goldp.te.dev.json", "te")
    assert len(te) > 100


def test_vital_articles_passages():
    passages = D.load_vital_articles()
    assert len({p.title for p in passages}) == 10033
    assert all(len(p.text.split()) <= 100 for p in passages)
    assert len(passages) > 10033  # some leads are longer than 100 words
    assert passages[0].docid == "vital-0-0"


def test_split_into_passages_w100():
    words = [f"w{i}" for i in range(250)]
    parts = D.split_into_passages("doc", "T", " ".join(words), max_words=100)
    assert [len(p.text.split()) for p in parts] == [100, 100, 50]
    assert [p.docid for p in parts] == ["doc-0", "doc-1", "doc-2"]
    assert parts[1].text.split()[0] == "w100"
    assert parts[0].contents.startswith("T w0")


def test_corpora_tevatron_and_dpr(tmp_path):
    jl = tmp_path / "corpus.jsonl"
    jl.write_text('{"docid": "1", "title": "T", "text": "x y"}\n\n{"docid": 2, "title": "U", "text": "z"}\n')
    assert D.load_corpus(jl) == [Passage("1", "T", "x y"), Passage("2", "U", "z")]
    tsv = tmp_path / "psgs_w100.tsv"
    tsv.write_text('id\ttext\ttitle\n1\t"quoted, text"\tAaron\n2\tplain\tBee\n')
    assert D.load_corpus(tsv) == [Passage("1", "Aaron", "quoted, text"), Passage("2", "Bee", "plain")]


def test_generated_queries_released_form(tmp_path):
    f = tmp_path / "gen.jsonl"
    f.write_text(json.dumps({"docid": "5", "text": "p", "generated_queries": {"ar": ["q1", "q2"], " ja": ["q3"]}}) + "\n")
    (rec,) = D.load_generated_queries(f)
    assert rec.queries == {"ar": ("q1", "q2"), "ja": ("q3",)}


# ----------------------------------------------------------------------------- malformed input
def _raises(fn, path, line, field):
    with pytest.raises(DataFormatError) as info:
        fn(path)
    err = info.value
    assert (err.path, err.line, err.field) == (str(path), line, field)
    assert str(path) in str(err)
    return err


@pytest.mark.parametrize(
    "body, line, field",
    [
        ('{"id": "1", "question": "q", "answers": ["a"], "lang": "ja"}\n{"id": "2", "question": "q"', 2, None),
        ('{"id": "1", "answers": ["a"], "lang": "ja"}\n', 1, "question"),
        ('{"id": "1", "question": "q", "answers": "a", "lang": "ja"}\n', 1, "answers"),
        ('{"id": "1", "question": "q", "answers": ["a", 3], "lang": "ja"}\n', 1, "answers[1]"),
        ('{"id": "1", "question": "q", "answers": ["a"], "lang": " "}\n', 1, "lang"),
        ('[1, 2]\n', 1, None),
    ],
)
def test_xor_queries_malformed(tmp_path, body, line, field):
    f = tmp_path / "bad.jsonl"
    f.write_text(body)
    _raises(D.load_xor_queries, f, line, field)


def test_tevatron_missing_field(tmp_path):
    f = tmp_path / "c.jsonl"
    f.write_text('{"docid": "1", "title": "t", "text": "x"}\n{"docid": "2", "text": "y"}\n')
    _raises(D.load_tevatron_corpus, f, 2, "title")


def test_dpr_bad_header_and_columns(tmp_path):
    f = tmp_path / "c.tsv"
    f.write_text("docid\ttext\ttitle\n")
    _raises(D.load_dpr_corpus, f, 1, None)
    f.write_text("id\ttext\ttitle\n1\tonly two\n")
    _raises(D.load_dpr_corpus, f, 2, None)


def test_generated_queries_not_a_list(tmp_path):
    f = tmp_path / "g.jsonl"
    f.write_text('{"docid": "1", "text": "t", "generated_queries": {"ar": "one string"}}\n')
    _raises(D.load_generated_queries, f, 1, "generated_queries.ar")


def test_pawsx_bad_label_and_columns(tmp_path):
    f = tmp_path / "dev-en.tsv"
    f.write_text("a\tb\t1\r\nc\td\t2\r\n")
    _raises(lambda p: D.load_pawsx_file(p, "en"), f, 2, "label")
    f.write_text("a\tb\t1\r\nonly one column\r\n")
    _raises(lambda p: D.load_pawsx_file(p, "en"), f, 2, None)


def test_pawsx_test_labels_bad_row(tmp_path):
    f = tmp_path / "labels.tsv"
    f.write_text("row\tid\tlabel\tsource\n1\t10\t1\tde\nx\t12\t0\tde\n")
    _raises(D.load_pawsx_test_labels, f, 3, "row")


def test_squad_missing_fields(tmp_path):
    f = tmp_path / "s.json"
    f.write_text(json.dumps({"data": [{"title": "t", "paragraphs": [{"context": "c", "qas": [{"id": "1", "answers": []}]}]}]}))
    _raises(lambda p: D.load_squad(p, "en"), f, None, "data[0].paragraphs[0].qas[0].question")
    f.write_text(json.dumps({"version": "1.1"}))
    _raises(lambda p: D.load_squad(p, "en"), f, None, "data")
    f.write_text('{"data": [')
    _raises(lambda p: D.load_squad(p, "en"), f, 1, None)


def test_vital_articles_malformed(tmp_path):
    f = tmp_path / "summaries.json"
    f.write_text(json.dumps({"A": {"title": "A", "extract": "x"}, "B": {"title": "B"}}))
    _raises(D.load_vital_articles, f, None, "[1].extract")


def test_missing_file_is_clear(tmp_path):
    with pytest.raises(MissingResourceError, match="file not found"):
        D.load_xor_queries(tmp_path / "nope.jsonl")


def test_bytes_that_are_not_utf8_name_file_and_line(tmp_path):
    from xqg_core.data.loaders import load_corpus, load_generated_queries, load_xor_queries
    from xqg_core.errors import DataFormatError

    good = '{"id": "1", "question": "q", "answers": ["a"], "lang": "ar"}\n'
    path = tmp_path / "q.jsonl"
    path.write_bytes(good.encode() + b'{"id": "2", "question": "caf\xe9", "answers": ["a"], "lang": "ar"}\n')
    with pytest.raises(DataFormatError, match=r"line 2: not UTF-8 text \(byte 0xe9\)"):
        load_xor_queries(path)
    path.write_bytes(b"\xef\xbb\xbf" + good.encode())  # a byte-order mark is accepted
    assert load_xor_queries(path)[0].question == "q"
    corpus = tmp_path / "c.tsv"
    corpus.write_bytes(b"id\ttext\ttitle\n1\tt\tT\n2\t\xff\tT\n")
    with pytest.raises(DataFormatError, match="not UTF-8 text"):
        load_corpus(corpus)
    released = tmp_path / "r.jsonl"
    released.write_bytes(b'{"docid": "d", "text": "\xc3", "generated_queries": {}}\n')
    with pytest.raises(DataFormatError, match="line 1: not UTF-8"):
        load_generated_queries(released)


def test_deeply_nested_json_is_one_line(tmp_path):
    from xqg_core.data.loaders import load_xor_queries
    from xqg_core.errors import DataFormatError

    path = tmp_path / "q.jsonl"
    path.write_text('{"id": ' + "[" * 100000 + "]" * 100000 + "}\n")
    with pytest.raises(DataFormatError, match="line 1: JSON nested too deeply"):
        load_xor_queries(path)
