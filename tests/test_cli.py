from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from xqg_core.cli import main
from xqg_core.data import download
from xqg_core.paths import PROJECT_ROOT


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "xqg_core", *args], capture_output=True, text=True, cwd=PROJECT_ROOT)


def test_help_lists_subcommands():
    out = run_cli("--help")
    assert out.returncode == 0
    for cmd in ("embed", "evaluate-xor", "data", "encoders", "status"):
        assert cmd in out.stdout


def test_evaluate_xor_cli(tmp_path, capsys):
    gold = tmp_path / "gold.jsonl"
    gold.write_text("\n".join(json.dumps(r) for r in [
        {"id": "a", "question": "q", "answers": ["Tokyo"], "lang": "ja"},
        {"id": "b", "question": "q", "answers": ["no"], "lang": "ja"},
        {"id": "c", "question": "q", "answers": ["Nile"], "lang": " ar"},
    ]) + "\n")
    pred = tmp_path / "pred.json"
    pred.write_text(json.dumps([
        {"id": "a", "lang": "ja", "ctxs": ["Tokyo is the capital."]},
        {"id": "b", "lang": "ja", "ctxs": ["no"]},
        {"id": "c", "lang": "ar", "ctxs": ["The Amazon."]},
    ]))
    assert main(["evaluate-xor", "--data-file", str(gold), "--pred-file", str(pred)]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["R@2kt"] == {"ar": 0.0, "ja": 100.0, "avg": 50.0}
    assert result["R@5kt"] == {"ar": 0.0, "ja": 100.0, "avg": 50.0}
    assert result["counts"] == {"ar": 1, "ja": 1}


@pytest.mark.parametrize("payload, field", [
    ({"id": "a", "lang": "ja"}, "[0].ctxs"),
    ({"id": "a", "lang": "ja", "ctxs": ["ok", 3]}, "[0].ctxs[1]"),
    ({"lang": "ja", "ctxs": []}, "[0].id"),
])
def test_evaluate_xor_bad_prediction_is_one_line(tmp_path, capsys, payload, field):
    gold = tmp_path / "gold.jsonl"
    gold.write_text(json.dumps({"id": "a", "question": "q", "answers": ["x"], "lang": "ja"}) + "\n")
    pred = tmp_path / "pred.json"
    pred.write_text(json.dumps([payload]))
    assert main(["evaluate-xor", "--data-file", str(gold), "--pred-file", str(pred)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and str(pred) in err and f"field '{field}'" in err


def test_embed_cli_one_row_per_line(tmp_path):
    texts = tmp_path / "texts.txt"
    texts.write_text("How many people live in Tokyo?\n東京には何人住んでいますか？\nThe Nile\n", encoding="utf-8")
    out = tmp_path / "q.npy"
    res = run_cli("embed", "--model", "use-m-v3", "--side", "query", "--input", str(texts), "--output", str(out), "--fp16")
    assert res.returncode == 0, res.stderr
    arr = np.load(out, allow_pickle=False)
    assert arr.shape == (3, 512) and arr.dtype == np.float16
    assert arr[0].astype(np.float32) @ arr[1].astype(np.float32) > arr[0].astype(np.float32) @ arr[2].astype(np.float32)


def test_download_offline_fails_in_one_line(tmp_path, monkeypatch, capsys):
    # a closed local port stands in for an unreachable host: the real fetch code runs
    monkeypatch.setattr(download, "XQUAD_BASE", "http://127.0.0.1:9")
    monkeypatch.setitem(download.DATASETS, "xquad", download.DatasetSource(
        "xquad", "xquad", "XQuAD", "CC BY-SA 4.0", "test", (),
        download._fetch_files("http://127.0.0.1:9", ["xquad.en.json"])))
    assert main(["data", "download", "xquad", "--to", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: cannot download http://127.0.0.1:9/xquad.en.json") and "\n" not in err
    assert list(tmp_path.iterdir()) == []  # nothing half-written


def test_download_unknown_dataset(tmp_path, capsys):
    assert main(["data", "download", "imagenet", "--to", str(tmp_path)]) == 2
    assert "unknown dataset 'imagenet'" in capsys.readouterr().err


def test_data_check_reports_the_shared_data(data_dir, capsys):
    assert main(["data", "check", "--data-dir", str(data_dir)]) == 0
    out = capsys.readouterr().out
    for name in ("xor_tydi", "pawsx", "xquad", "mlqa_dev", "tydiqa_goldp"):
        assert f"{name:16s} ok" in out


def test_every_dataset_names_its_official_source():
    for source in download.DATASETS.values():
        assert source.official and source.license


@pytest.mark.parametrize("argv", [
    ["generate", "--generator", "me5-qg", "--input", "x.jsonl", "--langs", "de", "--output", "out", "--shard-size", "-1"],
    ["generate", "--generator", "me5-qg", "--input", "x.jsonl", "--langs", "de", "--output", "out", "--shard-size", "0"],
    ["generate", "--generator", "me5-qg", "--input", "x.jsonl", "--langs", "de", "--output", "out", "--n", "0"],
    ["precompute", "--config", "configs/default.yaml", "--num-shards", "0"],
    ["precompute", "--config", "configs/default.yaml", "--stage", "generate", "--shard", "-2"],
    ["embed", "--model", "me5-small", "--side", "query", "--input", "x", "--output", "y", "--batch-size", "zero"],
])
def test_bad_counts_are_refused_before_any_work(tmp_path, monkeypatch, capsys, argv):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("python -m xqg_core") and ("at least" in err[-1]
                                                          or "expected an integer" in err[-1])
    assert list(tmp_path.iterdir()) == []


def test_a_shard_out_of_range_is_one_line(capsys):
    assert main(["precompute", "--config", str(PROJECT_ROOT / "configs" / "default.yaml"), "--stage", "generate",
                 "--shard", "3", "--num-shards", "2"]) == 2
    assert "--shard 3 is out of range: shards are 0 to 1" in capsys.readouterr().err


@pytest.mark.parametrize("gold_rows, preds, message", [
    ([], [{"id": "a", "lang": "ja", "ctxs": ["x"]}], "no questions"),
    ([{"id": "a", "question": "q", "answers": ["x"], "lang": "ja"}], [{"id": "z", "lang": "ja", "ctxs": ["x"]}],
     "no prediction's id is a question"),
    ([{"id": "a", "question": "q", "answers": ["x"], "lang": "ja"}, {"id": "a", "question": "q", "answers": ["y"], "lang": "ja"}],
     [{"id": "a", "lang": "ja", "ctxs": ["x"]}], "line 2, field 'id': 'a' already on line 1"),
    ([{"id": "a", "question": "q", "answers": ["x"], "lang": "ja"}],
     [{"id": "a", "lang": "ja", "ctxs": ["x"]}, {"id": "a", "lang": "ja", "ctxs": ["y"]}], "field '\\[1\\].id'"),
    ([{"id": "a", "question": "q", "answers": ["yes"], "lang": "ja"}], [{"id": "a", "lang": "ja", "ctxs": ["x"]}],
     "no prediction could be scored"),
])
def test_evaluate_xor_refuses_what_it_cannot_score(tmp_path, capsys, gold_rows, preds, message):
    import re

    gold = tmp_path / "gold.jsonl"
    gold.write_text("".join(json.dumps(r) + "\n" for r in gold_rows))
    pred = tmp_path / "pred.json"
    pred.write_text(json.dumps(preds))
    assert main(["evaluate-xor", "--data-file", str(gold), "--pred-file", str(pred)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and re.search(message, err), err


def test_evaluate_xor_passage_nltk_cannot_tokenise_in_time(tmp_path, capsys, monkeypatch):
    from xqg_core.retrieval import evaluate

    gold = tmp_path / "gold.jsonl"
    gold.write_text(json.dumps({"id": "a", "question": "q", "answers": ["x"], "lang": "ja"}) + "\n")
    pred = tmp_path / "pred.json"
    pred.write_text(json.dumps([{"id": "a", "lang": "ja", "ctxs": ["word " * 1000]}]))
    from nltk import redos

    monkeypatch.setattr(redos, "DEFAULT_TIMEOUT", 1e-9)  # what a huge passage meets at NLTK's own limit
    monkeypatch.setattr(evaluate, "punkt_sentence_tokenizer", evaluate.punkt_sentence_tokenizer.__wrapped__)
    code = main(["evaluate-xor", "--data-file", str(gold), "--pred-file", str(pred)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "prediction 'a': NLTK could not tokenise its passages in time" in err and "5,000 characters" in err


def test_output_paths_that_cannot_be_written_are_refused_first(tmp_path, capsys):
    texts = tmp_path / "texts.txt"
    texts.write_text("a\n")
    (tmp_path / "taken.npy").write_bytes(b"keep")
    for output, message in ((tmp_path, "is a directory"), (tmp_path / "taken.npy", "exists")):
        assert main(["embed", "--model", "me5-small", "--side", "query", "--input", str(texts),
                     "--output", str(output)]) == 2
        assert message in capsys.readouterr().err
    assert (tmp_path / "taken.npy").read_bytes() == b"keep"
    corpus = tmp_path / "c.jsonl"
    corpus.write_text('{"docid": "1", "title": "t", "text": "x"}\n')
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    for output, message in ((texts, "a file exists there"), (other, "something other than a generation run")):
        assert main(["generate", "--generator", "me5-qg", "--input", str(corpus), "--langs", "de",
                     "--output", str(output)]) == 2
        assert message in capsys.readouterr().err
    assert (other / "notes.txt").read_text() == "mine" and sorted(p.name for p in other.iterdir()) == ["notes.txt"]


def test_encoders_lists_pooling_only_where_it_applies(capsys):
    assert main(["encoders"]) == 0
    lines = {line.split()[0]: line.split()[1] for line in capsys.readouterr().out.splitlines() if line.strip()}
    assert lines["use-m-v3"] == "-" and lines["me5-small"] == "mean"


def test_paths_that_are_the_wrong_kind_are_one_line_errors(small_study, tmp_path, capsys):
    """findings --output DIR and reindex --work-dir FILE (both tracebacks before)."""
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    for argv, message in ((["findings", "--artifacts", small_study.output_dir, "--output", str(tmp_path)],
                           "a directory; give a file name"),
                          (["reindex", "--artifacts", small_study.output_dir, "--work-dir", str(a_file)],
                           "a file, not a directory")):
        assert main(argv) == 2
        err = capsys.readouterr().err.strip()
        assert message in err and "\n" not in err
