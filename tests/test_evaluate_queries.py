"""evaluate-queries: a question file against a shipped study reproduces the study's own numbers."""
from __future__ import annotations

import json

import pytest

from xqg_core.cli import main
from xqg_core.study.artifacts import load_artifacts


def squad_subset(data_dir, lang: str, ids: set[str]) -> dict:
    doc = json.loads((data_dir / "xquad" / f"xquad.{lang}.json").read_text(encoding="utf-8"))
    articles = []
    for article in doc["data"]:
        paragraphs = [{**p, "qas": [q for q in p["qas"] if q["id"] in ids]} for p in article["paragraphs"]]
        paragraphs = [p for p in paragraphs if p["qas"]]
        if paragraphs:
            articles.append({**article, "paragraphs": paragraphs})
    return {"version": "1.0", "data": articles}


def test_the_studys_own_questions_give_the_studys_numbers(small_study, data_dir, tmp_path, capsys):
    arts = load_artifacts(small_study.output_dir)
    queries = arts.table("queries/xquad-xr.parquet")
    ids = {i.rsplit("-", 1)[0] for i in queries.id}
    path = tmp_path / "de.json"
    path.write_text(json.dumps(squad_subset(data_dir, "de", ids), ensure_ascii=False), encoding="utf-8")
    assert main(["evaluate-queries", "--queries", str(path), "--lang", "de", "--plm", "me5-small", "--alpha", "0.05",
                 "--n", "2", "--artifacts", str(small_study.output_dir)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["benchmark"] == "xquad-xr" and out["lang"] == "de" and out["num_queries"] == len(ids)
    res = arts.results()
    want = res[(res.benchmark == "xquad-xr") & (res.plm == "me5-small") & (res.lang == "de") & (res.n == 2)]
    step = 100 / out["num_queries"]  # the index ships in float16: at most one question may flip
    for row in out["rows"]:
        expected = want[(want.alpha == row["alpha"]) & (want.metric == row["metric"])].value.iloc[0]
        assert row["value"] == pytest.approx(expected, abs=step + 1e-6), row
    assert {r["metric"] for r in out["rows"]} == {"R@2kt", "R@5kt", "Recall@20", "Recall@100", "MRR@10"}
    assert {r["alpha"] for r in out["rows"]} == {0.0, 0.05} and all(0 <= r["p_value"] <= 1 for r in out["rows"])


def test_xor_jsonl_gives_r_at_kt_only(small_study, tmp_path, capsys):
    path = tmp_path / "xor.jsonl"
    path.write_text("".join(json.dumps({"id": f"q{i}", "question": q, "answers": [a], "lang": "ja"}) + "\n"
                            for i, (q, a) in enumerate([("ノルマン人はどこにいたか", "Normandy"),
                                                        ("何年?", "1066")])), encoding="utf-8")
    assert main(["evaluate-queries", "--queries", str(path), "--lang", "ja", "--plm", "use-m-v3", "--alpha", "0.01",
                 "--alpha", "0.05", "--n", "1", "--artifacts", str(small_study.output_dir)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["num_queries"] == 2 and {r["metric"] for r in out["rows"]} == {"R@2kt", "R@5kt"}
    assert sorted({r["alpha"] for r in out["rows"]}) == [0.0, 0.01, 0.05]


@pytest.mark.parametrize("content, message", [
    ('{"data": [{"title": "t", "paragraphs": [{"context": "c", "qas": [{"id": "nope", "question": "q", '
     '"answers": [{"text": "a", "answer_start": 0}]}]}]}]}', "question 'nope' is not an XQuAD question of this study"),
    ('{"id": "1", "question": "q", "answers": ["a"], "lang": "de"}\n', "no questions in 'ar'"),
    ("not json at all\n", "line 1: invalid JSON"),
])
def test_bad_question_files_are_one_line(small_study, tmp_path, capsys, content, message):
    path = tmp_path / "q.json"
    path.write_text(content, encoding="utf-8")
    assert main(["evaluate-queries", "--queries", str(path), "--lang", "ar", "--plm", "me5-small", "--alpha", "0.01",
                 "--artifacts", str(small_study.output_dir), "--n", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err


def test_a_plm_or_n_the_study_lacks(small_study, tmp_path, capsys):
    path = tmp_path / "q.jsonl"
    path.write_text('{"id": "1", "question": "q", "answers": ["a"], "lang": "de"}\n', encoding="utf-8")
    base = ["evaluate-queries", "--queries", str(path), "--lang", "de", "--alpha", "0.01",
            "--artifacts", str(small_study.output_dir)]
    assert main(base + ["--plm", "mbert", "--n", "1"]) == 2
    assert "--plm mbert: the study holds me5-small, use-m-v3" in capsys.readouterr().err
    assert main(base + ["--plm", "me5-small", "--n", "9"]) == 2
    assert "--n must be 1 to 2" in capsys.readouterr().err


def xor_file(path, rows):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def test_yes_no_and_empty_answers_give_strict_json_and_no_free_hits(small_study, tmp_path, capsys):
    """All yes/no: nothing to evaluate, printed as null (strict JSON, no NaN); an empty answer
    would be a substring of every window and is not an answer."""
    args = ["--lang", "ja", "--plm", "use-m-v3", "--alpha", "0.05", "--n", "1", "--artifacts", str(small_study.output_dir)]
    path = xor_file(tmp_path / "yn.jsonl", [{"id": "1", "question": "本当?", "answers": ["yes"], "lang": "ja"}])
    assert main(["evaluate-queries", "--queries", str(path), *args]) == 0
    out = json.loads(capsys.readouterr().out, parse_constant=lambda c: pytest.fail(f"{c} in the JSON"))
    assert out["evaluated_r_at_kt"] == 0 and {r["value"] for r in out["rows"]} == {None}
    path = xor_file(tmp_path / "empty.jsonl", [{"id": "1", "question": "何?", "answers": [""], "lang": "ja"},
                                               {"id": "2", "question": "何年?", "answers": ["", "zzzz-not-in-corpus"],
                                                "lang": "ja"}])
    assert main(["evaluate-queries", "--queries", str(path), *args]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["evaluated_r_at_kt"] == 1 and {r["value"] for r in out["rows"]} == {0.0}


@pytest.mark.parametrize("kind, message", [("xor", "line 2, field 'id': '1' already on line 1"),
                                           ("squad", "appears 2 times; each question is counted once"),
                                           ("huge", "line 1: a number too long to read")])
def test_repeated_ids_and_huge_numbers_are_one_line_errors(small_study, data_dir, tmp_path, capsys, kind, message):
    path = tmp_path / "q.json"
    if kind == "huge":
        path.write_text('{"id": ' + "9" * 5000 + ', "question": "a?", "answers": ["x"], "lang": "ja"}\n')
    elif kind == "xor":
        xor_file(path, [{"id": "1", "question": "a?", "answers": ["x"], "lang": "ja"}] * 2)
    else:  # one XQuAD question twice
        qid = load_artifacts(small_study.output_dir).table("queries/xquad-xr.parquet").id.iloc[0].rsplit("-", 1)[0]
        doc = squad_subset(data_dir, "de", {qid})
        doc["data"].append(doc["data"][0])
        path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    lang = "de" if kind == "squad" else "ja"
    assert main(["evaluate-queries", "--queries", str(path), "--lang", lang, "--plm", "use-m-v3", "--alpha", "0.05",
                 "--n", "1", "--artifacts", str(small_study.output_dir)]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err


def test_memory_stays_bounded_however_many_questions(small_study, tmp_path):
    """Questions are encoded and ranked a block at a time: 8,000 questions peak within a few
    MB of 1,000 (it grew by ~0.25 MB a question)."""
    import tracemalloc

    import numpy as np

    from xqg_core.explore.evaluate_queries import QuerySet, evaluate_query_set
    from xqg_core.study.artifacts import resolve_study

    arts = load_artifacts(small_study.output_dir)
    study = resolve_study(arts)
    dim = arts.index("me5-small")["P"].shape[1]

    class HashEncoder:  # a tiny random model: a seeded vector per text
        def encode_queries(self, texts):
            return np.stack([np.random.default_rng(abs(hash(t)) % 2**32).standard_normal(dim) for t in texts])

    def peak(count: int) -> int:
        queries = QuerySet([f"q{i}" for i in range(count)], [f"question {i}" for i in range(count)],
                           [("Normandy",)] * count, [[] for _ in range(count)])
        tracemalloc.start()
        evaluate_query_set(arts, study, "me5-small", HashEncoder(), queries, "ja", [0.05], 2, block=500)
        size = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return size

    small, large = peak(1000), peak(8000)
    assert large - small < 4 * 2**20, (small, large)
