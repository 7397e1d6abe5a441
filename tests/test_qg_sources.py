"""The generator's extra training sources: their loaders and quirks, the XQuAD exclusion and
the held-out MLQA contexts (nothing of either reaches training)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from xqg_core.data.qg_sources import QG_SOURCES, TWIN, XquadGuard, load_qg_source, squad_paragraphs
from xqg_core.errors import DataFormatError, MissingResourceError
from xqg_core.models.qg_data import GeneratorTrainConfig, build_pairs, is_heldout

XQUAD_CONTEXT = "The Normans were the people who in the 10th and 11th centuries gave their name to Normandy."
SIBLING_CONTEXT = "The Norman dynasty had a major political, cultural and military impact on medieval Europe."
OTHER_CONTEXT = "The Amazon rainforest covers much of the Amazon basin of South America."


def squad(articles, bare=False):
    return json.dumps(articles if bare else {"version": "x", "data": articles}, ensure_ascii=False)


def para(context, *qas):
    return {"context": context, "qas": [{"id": qid, "question": q, "answers": []} for qid, q in qas]}


@pytest.fixture
def qg_dir(tmp_path):
    """A miniature qg data dir: the English twin, SQuAD-es (v2.0 + v1.1) and an XQuAD with one paragraph."""
    (tmp_path / "xquad").mkdir()
    (tmp_path / "xquad" / "xquad.en.json").write_text(
        squad([{"title": "Normans", "paragraphs": [para(XQUAD_CONTEXT, ("x1", "Where is Normandy?"))]}]))
    qg = tmp_path / "qg"
    (qg / TWIN).mkdir(parents=True)
    # the twin holds unanswerable questions only: the answerable ids of a translated
    # paragraph are not in it, the alignment goes through a shared unanswerable one
    (qg / TWIN / "squad_dev_v2.0_ImpossibleAnswers.json").write_text(squad([
        {"title": "Normans", "paragraphs": [para(XQUAD_CONTEXT, ("u1", "What is France a region of?")),
                                            para(SIBLING_CONTEXT, ("u2", "Who ruled?"))]},
        {"title": "Amazon_rainforest", "paragraphs": [para(OTHER_CONTEXT, ("u3", "What covers Europe?"))]}]))
    (qg / "squad-es").mkdir()
    (qg / "squad-es" / "dev-v2.0-es_small.json").write_text(squad([
        {"title": "Normandos", "paragraphs": [para("Los normandos ...", ("x1", "¿Dónde está Normandía?"),
                                                   ("u1", "¿De qué es Francia una región?")),
                                              para("La dinastía normanda ...", ("s1", "¿Quién gobernó?"),
                                                   ("u2", "¿Quién reinó?"))]},
        {"title": "Amazonas", "paragraphs": [para("La selva amazónica ...", ("a1", "¿Qué cubre la selva?"),
                                                  ("u3", "¿Qué cubre Europa?")),
                                             para("Sin gemelo ...", ("n1", "¿Sin pareja?"))]}]))
    (qg / "squad-es" / "dev-v1.1-es_small.json").write_text(squad([
        {"title": "Normandos", "paragraphs": [para("Los normandos ...", ("x1", "¿Dónde está Normandía?"))]},
        {"title": "Amazonas", "paragraphs": [para("La selva amazónica ...", ("a1", "¿Qué cubre la selva?"))]},
        {"title": "Solo v1.1", "paragraphs": [para("Un párrafo ...", ("o1", "¿Qué párrafo?"))]}]))
    return tmp_path


def test_translated_squad_is_aligned_to_english_and_never_holds_xquad(qg_dir):
    examples = load_qg_source("squad-es", qg_dir / "qg", qg_dir / "xquad" / "xquad.en.json")
    got = {(e.kind, e.passage, e.question) for e in examples}
    assert got == {
        ("en-context", SIBLING_CONTEXT, "¿Quién gobernó?"), ("en-context", SIBLING_CONTEXT, "¿Quién reinó?"),
        ("en-context", OTHER_CONTEXT, "¿Qué cubre la selva?"), ("en-context", OTHER_CONTEXT, "¿Qué cubre Europa?"),
        # a v1.1 paragraph whose questions the v2.0 file does not hold: same-language
        ("same-language", "Un párrafo ...", "¿Qué párrafo?"),
    }
    assert all(e.group != XQUAD_CONTEXT for e in examples)
    assert {e.title for e in examples if e.kind == "en-context"} == {"Normans", "Amazon_rainforest"}


def test_an_xquad_paragraph_is_dropped_by_its_english_text_even_without_an_xquad_id(qg_dir):
    """SQuAD-vi holds unanswerable questions only: no XQuAD id, the English context decides."""
    guard = XquadGuard(qg_dir / "xquad" / "xquad.en.json")
    path = qg_dir / "vi.json"
    path.write_text(squad([{"paragraphs": [para("Người Norman ...", ("u1", "Pháp là vùng nào?"))]}], bare=True))
    [vi] = squad_paragraphs(path)
    assert guard.drops(vi, XQUAD_CONTEXT.replace(" ", "  "))  # whitespace-normalised
    assert not guard.drops(vi, SIBLING_CONTEXT)


def test_article_exclusion_also_drops_the_xquad_articles_other_paragraphs(qg_dir):
    examples = load_qg_source("squad-es", qg_dir / "qg", qg_dir / "xquad" / "xquad.en.json", exclude="article")
    assert {e.passage for e in examples} == {OTHER_CONTEXT, "Un párrafo ..."}


def test_squad_reader_quirks_and_errors(tmp_path):
    bare = tmp_path / "bare.json"  # the SQuAD-vi files: a list of articles, no title, no answers
    bare.write_text(squad([{"paragraphs": [para("c", ("1", "q?"))]}], bare=True))
    [p] = squad_paragraphs(bare)
    assert (p.title, p.context, p.questions) == ("", "c", (("1", "q?"),))
    broken = tmp_path / "broken.json"
    broken.write_text(squad([{"title": "t", "paragraphs": [{"context": "c", "qas": [{"id": "1"}]}]}]))
    with pytest.raises(DataFormatError, match=r"broken.json.*data\[0\]\.paragraphs\[0\]\.qas\[0\]\.question"):
        squad_paragraphs(broken)


def write_source(root: Path, name: str, files: dict[str, str]) -> None:
    (root / name).mkdir(parents=True, exist_ok=True)
    for file_name in QG_SOURCES[name].files:
        (root / name / file_name).write_text(files.get(file_name, ""), encoding="utf-8")


def test_same_language_and_translation_sources(tmp_path):
    xquad = tmp_path / "xquad.en.json"
    xquad.write_text(squad([]))
    write_source(tmp_path, "arcd", {"arcd.json": squad([{"title": "خاشقجي", "paragraphs": [
        para("جمال خاشقجي صحفي", ("1", " - من هو جمال خاشقجي؟ "))]}])})
    [e] = load_qg_source("arcd", tmp_path, xquad)
    assert (e.kind, e.lang, e.question, e.title) == ("same-language", "ar", "من هو جمال خاشقجي؟", "خاشقجي")
    write_source(tmp_path, "hiquad", {"answer_train.txt": "वाक्य एक\n\nवाक्य तीन\n", "question_train.txt": "प्रश्न एक ?\nx\nप्रश्न तीन ?\n"})
    assert [(e.passage, e.question) for e in load_qg_source("hiquad", tmp_path, xquad)] == [
        ("वाक्य एक", "प्रश्न एक ?"), ("वाक्य तीन", "प्रश्न तीन ?")]  # an empty line pairs with nothing
    write_source(tmp_path, "hiquad", {"answer_val.txt": "a\nb\n", "question_val.txt": "q\n"})
    with pytest.raises(DataFormatError, match="question_val.txt.*1 lines, but answer_val.txt has 2"):
        load_qg_source("hiquad", tmp_path, xquad)
    write_source(tmp_path, "mintaka", {"mintaka_dev.json": json.dumps([
        {"question": "Who wrote Twilight?", "translations": {"de": "Wer schrieb Twilight?", "ja": "x", "hi": ""}}])})
    assert [(e.lang, e.passage, e.question) for e in load_qg_source("mintaka", tmp_path, xquad)] == [
        ("de", "Who wrote Twilight?", "Wer schrieb Twilight?")]
    rows = [{"question_text": "Где остров Пасхи?", "question_eng": "Where is Easter island?"},
            {"question_text": "Без перевода?", "question_eng": None}]
    write_source(tmp_path, "rubq", {"RuBQ_1.0_dev.json": json.dumps(rows), "RuBQ_1.0_test.json": "[]",
                                    "RuBQ_2.0_dev.json": json.dumps(rows[:1])})  # 2.0 repeats 1.0
    assert [(e.kind, e.question) for e in load_qg_source("rubq", tmp_path, xquad)] == [("en-question", "Где остров Пасхи?")]


def test_a_missing_source_names_its_download(tmp_path):
    with pytest.raises(MissingResourceError, match="data download qg-cmrc2018"):
        load_qg_source("cmrc2018", tmp_path, tmp_path / "xquad.en.json")


def test_no_heldout_mlqa_context_and_no_xquad_paragraph_reaches_training(qg_dir):
    """Every MLQA context held out (heldout_percent 100); a source passage equal to one of them
    is dropped, and so is the XQuAD paragraph."""
    mlqa = qg_dir / "mlqa_dev"
    mlqa.mkdir()
    (mlqa / "dev-context-en-question-es.json").write_text(squad([{"title": "Amazon", "paragraphs": [
        {"context": OTHER_CONTEXT, "qas": [{"id": "m1", "question": "¿Qué cubre?", "answers": [
            {"text": "Amazon", "answer_start": 4}]}]}]}]))
    cfg = GeneratorTrainConfig(langs=("es",), data_dir=str(qg_dir), heldout_percent=100, use_tydi=False,
                               use_xor_translations=False, qg_sources=("squad-es",))
    pairs = build_pairs(cfg)
    assert [p.group for p in pairs.heldout] == [OTHER_CONTEXT] and is_heldout(OTHER_CONTEXT, 100)
    groups = {p.group for p in pairs.train}
    assert groups == {SIBLING_CONTEXT, "Un párrafo ..."}
    assert {(p.origin, p.kind) for p in pairs.train} == {("squad-es", "en-context"), ("squad-es", "same-language")}
    assert all(p.source.startswith("passage: ") for p in pairs.train)


def test_the_real_training_pairs_hold_no_xquad_or_pawsx_text(data_dir):
    """Every source present here (the base sets always; the extra ones where their files are):
    no training passage or question is an XQuAD paragraph or question (any language) or a
    PAWS-X sentence."""
    from xqg_core.data.loaders import load_squad
    from xqg_core.models.qg_data import qg_data_dir

    cfg = GeneratorTrainConfig.from_yaml(Path(__file__).resolve().parents[1] / "configs" / "generator-v3.yaml")
    qg = qg_data_dir(cfg, Path(data_dir))
    cfg.qg_sources = tuple(s for s in cfg.qg_sources if all((qg / s / f).is_file() for f in QG_SOURCES[s].files)
                           and (QG_SOURCES[s].kind != "en-context" or (qg / TWIN).is_dir()))
    cfg.data_dir = str(data_dir)
    pairs = build_pairs(cfg)
    norm = lambda s: " ".join(s.split())
    xquad = [q for lang in ("ar", "de", "en", "es", "hi", "ru", "vi", "zh")
             for q in load_squad(Path(data_dir) / "xquad" / f"xquad.{lang}.json", lang)]
    forbidden = {norm(q.context) for q in xquad} | {norm(q.question) for q in xquad}
    for path in (Path(data_dir) / "pawsx").glob("*.tsv"):
        forbidden |= {norm(cell) for line in path.read_text(encoding="utf-8").splitlines()
                      for cell in line.split("\t")[:2] if len(cell) > 20}
    leaks = [p for p in pairs.train if norm(p.group) in forbidden or norm(p.target) in forbidden]
    assert not leaks, leaks[:3]
    assert len(pairs.train) > 15000


def test_a_source_downloads_from_its_pinned_commit_or_fails_in_one_line(tmp_path, monkeypatch, capsys):
    """The real fetch code against a closed local port: one line, nothing half-written."""
    from xqg_core.cli import main
    from xqg_core.data import download, qg_sources

    assert QG_SOURCES["arcd"].url("arcd.json") == ("https://raw.githubusercontent.com/husseinmozannar/SOQAL/"
                                                  "1229d34aa2b7a0b9a2e4858c9268e68f45d7e3c4/data/arcd.json")
    closed = qg_sources.QGSource("arcd", ("ar",), "same-language", "x/y", "c", {"arcd.json": "arcd.json"}, "", "")
    monkeypatch.setitem(QG_SOURCES, "arcd", closed)
    monkeypatch.setattr(closed.__class__, "url", lambda self, local: f"http://127.0.0.1:9/{local}")
    assert main(["data", "download", "qg-arcd", "--to", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: cannot download http://127.0.0.1:9/arcd.json") and "\n" not in err
    assert list(tmp_path.iterdir()) == [] and download.qg_dataset("qg-arcd").folder == "qg/arcd"
