"""Fuzzing the loaders and CLI entry points: random bytes, random JSON and random YAML get a
result or one of the project's one-line errors, never another exception, and no output."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from xqg_core.cli import load_xor_predictions, main
from xqg_core.data import loaders as data
from xqg_core.errors import XqgError

FUZZ = settings(max_examples=150, deadline=None, derandomize=True,  # the same examples on every CI run
                suppress_health_check=[HealthCheck.function_scoped_fixture])
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=10)
# objects that look like the files' records, with fields missing, mistyped or odd
record_fields = st.sampled_from(["id", "question", "answers", "lang", "docid", "title", "text", "generated_queries",
                                 "ctxs", "data", "paragraphs", "context", "qas"])
records = st.dictionaries(record_fields, json_values, max_size=5)

LOADERS = {
    "xor queries": (lambda p: data.load_xor_queries(p), ".jsonl"),
    "tevatron corpus": (lambda p: data.load_corpus(p), ".jsonl"),
    "dpr corpus": (lambda p: data.load_corpus(p), ".tsv"),
    "released queries": (lambda p: data.load_generated_queries(p), ".jsonl"),
    "squad": (lambda p: data.load_squad(p, "de"), ".json"),
    "pawsx": (lambda p: data.load_pawsx_file(p, "de"), ".tsv"),
    "pawsx labels": (lambda p: data.load_pawsx_test_labels(p), ".tsv"),
    "predictions": (lambda p: load_xor_predictions(Path(p)), ".json"),
}


def survives(load, path: Path) -> None:
    try:
        load(path)
    except XqgError as exc:
        assert "\n" not in str(exc), str(exc)


@pytest.mark.parametrize("name", LOADERS)
@FUZZ
@given(blob=st.binary(max_size=300))
def test_loaders_on_random_bytes(tmp_path, name, blob):
    load, suffix = LOADERS[name]
    path = tmp_path / f"input{suffix}"
    path.write_bytes(blob)
    survives(load, path)


@pytest.mark.parametrize("name", LOADERS)
@FUZZ
@given(rows=st.lists(records | json_values, max_size=4), as_lines=st.booleans())
def test_loaders_on_random_json(tmp_path, name, rows, as_lines):
    load, suffix = LOADERS[name]
    path = tmp_path / f"input{suffix}"
    text = "".join(json.dumps(r) + "\n" for r in rows) if as_lines else json.dumps(rows)
    path.write_text(text, encoding="utf-8")
    survives(load, path)


@FUZZ
@given(gold=st.lists(records, max_size=3), preds=json_values | st.lists(records, max_size=3))
def test_evaluate_xor_cli_on_random_json(tmp_path, capsys, gold, preds):
    gold_path, pred_path = tmp_path / "gold.jsonl", tmp_path / "pred.json"
    gold_path.write_text("".join(json.dumps(r) + "\n" for r in gold), encoding="utf-8")
    pred_path.write_text(json.dumps(preds), encoding="utf-8")
    code = main(["evaluate-xor", "--data-file", str(gold_path), "--pred-file", str(pred_path), "--tokenizer", "line"])
    err = capsys.readouterr().err.strip()
    assert code in (0, 2)
    if code == 2:
        assert err.startswith("error: ") and "\n" not in err


@FUZZ
@given(blob=st.binary(max_size=200))
def test_generate_cli_on_random_passages_writes_nothing(tmp_path, capsys, blob):
    corpus = tmp_path / "passages.jsonl"
    corpus.write_bytes(blob)
    out = tmp_path / "run"
    code = main(["generate", "--generator", "released:/nonexistent.jsonl", "--input", str(corpus), "--langs", "de",
                 "--output", str(out)])
    assert code == 2 and not out.exists()
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err
