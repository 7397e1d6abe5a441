"""More real (passage, question) pairs for the query generator: public QA sets beyond ``../shared/data``.

Each source lives in ``{qg data dir}/{name}/`` (:data:`QG_SOURCES`: files, the repository
and pinned commit they come from, licence) and reads as :class:`QGExample` of one kind:

- ``en-context``: an English passage and a question in L, the task xQG trains. The
  machine-translated SQuAD v2.0 dev sets (SQuAD-es, ChineseSquad, SQuAD-vi) are aligned to
  the English SQuAD v2.0 dev paragraphs through a question id the two paragraphs share
  (:func:`english_twin`);
- ``same-language``: a passage and a question in the same language (fluency): CMRC 2018,
  DRCD, ARCD, HiQuAD (sentence -> question), and the SQuAD v1.1 dev paragraphs of the
  translated sets that the v2.0 files do not hold;
- ``en-question``: an English question and the same question written in L (Mintaka, RuBQ).

Leakage: XQuAD is 240 paragraphs of SQuAD v1.1 dev and holds every question of each, so
every SQuAD-derived paragraph whose English context is an XQuAD paragraph (whitespace-
normalised text) or that holds an XQuAD question id is dropped (:class:`XquadGuard`);
with ``exclude="article"`` every paragraph of an article that has an XQuAD paragraph is
dropped too (the other paragraphs of those articles share their names and topics).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from xqg_core.data.records import _load_json, _require, read_text
from xqg_core.errors import DataFormatError, MissingResourceError


@dataclass(frozen=True)
class QGExample:
    source: str  # the QG_SOURCES name
    kind: str  # en-context / same-language / en-question
    lang: str  # the question's language
    title: str
    passage: str  # the passage (or, for en-question, the English question)
    question: str
    group: str  # the English passage when known, else the passage: held-out grouping and leakage checks


@dataclass(frozen=True)
class QGSource:
    name: str
    langs: tuple[str, ...]
    kind: str
    repository: str  # github owner/name
    commit: str
    files: dict[str, str]  # local file name -> path in the repository
    license: str
    description: str

    def url(self, local: str) -> str:
        return f"https://raw.githubusercontent.com/{self.repository}/{self.commit}/{self.files[local]}"


TWIN = "squad-en-v2-dev"  # the English SQuAD v2.0 dev paragraphs the translated sets are aligned to
QG_SOURCES = {s.name: s for s in [
    QGSource(TWIN, ("en",), "alignment", "namnv1113/Nanibot_ZaloAIChallenge2019_VietnameseWikiQA",
             "3a4df483cbd8cdf582636f202398c7d38b7fc248",
             {"squad_dev_v2.0_ImpossibleAnswers.json": "Dataset/old/squad_dev_v2.0_ImpossibleAnswers.json"},
             "CC BY-SA 4.0 (SQuAD); MIT (repository)",
             "English SQuAD v2.0 dev: all 1,204 paragraphs with their unanswerable questions (alignment only)"),
    QGSource("squad-es", ("es",), "en-context", "ccasimiro88/TranslateAlignRetrieve",
             "c84784219785c1fc05884b26081d9b7b4156c019",
             {"dev-v2.0-es_small.json": "SQuAD-es-v2.0/dev-v2.0-es_small.json",
              "dev-v1.1-es_small.json": "SQuAD-es-v1.1/dev-v1.1-es_small.json"},
             "CC BY 4.0", "SQuAD-es: SQuAD v1.1 / v2.0 dev machine-translated into Spanish (Carrino et al., LREC 2020)"),
    QGSource("chinese-squad", ("zh",), "en-context", "pluto-junzeng/ChineseSquad",
             "45eab29a703603954c885a136eb47db5fe4f7779",
             {"dev-v2.0-zh.json": "squad_2.0/dev-v2.0-zh.json", "dev-v1.1-zh.json": "squad_1.1/dev-v1.1-zh.json"},
             "none stated", "ChineseSquad: SQuAD v1.1 / v2.0 dev machine-translated into Chinese"),
    QGSource("squad-vi", ("vi",), "en-context", "namnv1113/Nanibot_ZaloAIChallenge2019_VietnameseWikiQA",
             "3a4df483cbd8cdf582636f202398c7d38b7fc248",
             {"squad_vi_dev_v2.0_ImpossibleAnswers.json": "Dataset/old/squad_vi_dev_v2.0_ImpossibleAnswers.json"},
             "MIT (repository)", "SQuAD v2.0 dev unanswerable questions machine-translated into Vietnamese"),
    QGSource("cmrc2018", ("zh",), "same-language", "ymcui/cmrc2018", "c0eb1b6ba219847457e6af3180da722bbeb656af",
             {"cmrc2018_dev.json": "squad-style-data/cmrc2018_dev.json",
              "cmrc2018_trial.json": "squad-style-data/cmrc2018_trial.json"},
             "CC BY-SA 4.0", "CMRC 2018 dev + trial: Chinese Wikipedia passages, questions written by people"),
    QGSource("arcd", ("ar",), "same-language", "husseinmozannar/SOQAL", "1229d34aa2b7a0b9a2e4858c9268e68f45d7e3c4",
             {"arcd.json": "data/arcd.json"}, "MIT (repository)",
             "ARCD: Arabic Wikipedia passages, questions written by crowd workers (Mozannar et al., 2019)"),
    QGSource("hiquad", ("hi",), "same-language", "vishwajeet93/clqg", "75f7311983f48f164fd371641c9abaabbba9ef3d",
             {f"{kind}_{split}.txt": f"data/{kind}_{split}.txt" for split in ("train", "val", "test")
              for kind in ("answer", "question")},
             "none stated", "HiQuAD: Hindi sentence -> question (Kumar et al., ACL 2019), line-parallel files"),
    QGSource("mintaka", ("ar", "de", "es", "hi"), "en-question", "amazon-science/mintaka",
             "cbb87072c9e0c92a2baf585f1d67b5a9003081a0", {"mintaka_dev.json": "data/mintaka_dev.json"},
             "CC BY 4.0", "Mintaka v1.0 dev: English questions and their human translations (Sen et al., COLING 2022)"),
    QGSource("rubq", ("ru",), "en-question", "vladislavneon/RuBQ", "fade3eae6a4807c35b19cfce20dfa805fc8c0cdf",
             {"RuBQ_1.0_dev.json": "RuBQ_1.0/RuBQ_1.0_dev.json", "RuBQ_1.0_test.json": "RuBQ_1.0/RuBQ_1.0_test.json",
              "RuBQ_2.0_dev.json": "RuBQ_2.0/RuBQ_2.0_dev.json"},
             "CC BY-SA 4.0", "RuBQ 1.0 / 2.0: Russian questions with their English translations (Korablinov & Braslavski)"),
]}


def normalise_space(text: str) -> str:
    return " ".join(text.split())


@dataclass(frozen=True)
class SquadParagraph:
    article: int
    title: str
    context: str
    questions: tuple[tuple[str, str], ...]  # (id, question)


def squad_paragraphs(path: Path) -> list[SquadParagraph]:
    """Paragraphs of a SQuAD-format file: ``{"data": [...]}`` or a bare list of articles (the
    SQuAD-vi files); answers are not read (v2.0's unanswerable questions are questions too)."""
    doc = _load_json(path)
    articles = doc.get("data") if isinstance(doc, dict) else doc
    if not isinstance(articles, list):
        raise DataFormatError(path, None, "data", "expected a list of articles (or an object with a 'data' list)")
    out = []
    for a, article in enumerate(articles):
        where = f"data[{a}]."
        if not isinstance(article, dict):
            raise DataFormatError(path, None, f"data[{a}]", "expected an object")
        title = article.get("title", "")
        for p, para in enumerate(_require(article, "paragraphs", list, path, None, where)):
            pwhere = f"{where}paragraphs[{p}]."
            context = _require(para, "context", str, path, None, pwhere)
            qas = tuple((str(_require(qa, "id", (str, int), path, None, f"{pwhere}qas[{q}].")),
                         _require(qa, "question", str, path, None, f"{pwhere}qas[{q}]."))
                        for q, qa in enumerate(_require(para, "qas", list, path, None, pwhere)))
            out.append(SquadParagraph(a, title if isinstance(title, str) else "", context, qas))
    return out


class XquadGuard:
    """What of SQuAD dev the generator must never see: XQuAD's English paragraphs, its question
    ids and (``exclude="article"``) every article that holds one of them."""

    def __init__(self, xquad_en: Path, exclude: str = "paragraph"):
        if exclude not in ("paragraph", "article"):
            raise ValueError(f"exclude must be paragraph or article, not {exclude!r}")
        paragraphs = squad_paragraphs(xquad_en)
        self.contexts = {normalise_space(p.context) for p in paragraphs}
        self.ids = {qid for p in paragraphs for qid, _ in p.questions}
        self.exclude = exclude

    def drops(self, paragraph: SquadParagraph, english: str | None) -> bool:
        return (any(qid in self.ids for qid, _ in paragraph.questions)
                or (english is not None and normalise_space(english) in self.contexts))

    def kept(self, paragraphs: list[SquadParagraph], english: list[str | None]) -> list[bool]:
        """Which paragraphs (with their English contexts, None: unknown) may be trained on."""
        dropped = [self.drops(p, e) for p, e in zip(paragraphs, english)]
        if self.exclude == "article":
            articles = {p.article for p, d in zip(paragraphs, dropped) if d}
            dropped = [d or p.article in articles for p, d in zip(paragraphs, dropped)]
        return [not d for d in dropped]


def english_twin(path: Path) -> dict[str, tuple[str, str]]:
    """Question id -> (title, English context) over the English SQuAD v2.0 dev paragraphs."""
    return {qid: (p.title, p.context) for p in squad_paragraphs(path) for qid, _ in p.questions}


def translated_squad(source: QGSource, directory: Path, guard: XquadGuard,
                     twin: dict[str, tuple[str, str]]) -> Iterator[QGExample]:
    """A translated SQuAD set: v2.0 dev paragraphs aligned to English (``en-context``); v1.1 dev
    paragraphs whose questions the v2.0 file does not hold, as ``same-language`` pairs."""
    lang = source.langs[0]
    v2_files = [f for f in source.files if "v2.0" in f]
    v2_ids: set[str] = set()
    for name in v2_files:
        paragraphs = squad_paragraphs(directory / name)
        english = [next((twin[qid][1] for qid, _ in p.questions if qid in twin), None) for p in paragraphs]
        for p, en, keep in zip(paragraphs, english, guard.kept(paragraphs, english)):
            v2_ids.update(qid for qid, _ in p.questions)
            if keep and en is not None:
                title = next(twin[qid][0] for qid, _ in p.questions if qid in twin)
                for _, question in p.questions:
                    yield QGExample(source.name, "en-context", lang, title, en, question, en)
    for name in (f for f in source.files if "v1.1" in f):
        paragraphs = [p for p in squad_paragraphs(directory / name) if not any(q in v2_ids for q, _ in p.questions)]
        for p, keep in zip(paragraphs, guard.kept(paragraphs, [None] * len(paragraphs))):
            if keep:
                for _, question in p.questions:
                    yield QGExample(source.name, "same-language", lang, p.title, p.context, question, p.context)


def same_language_squad(source: QGSource, directory: Path) -> Iterator[QGExample]:
    """CMRC 2018, ARCD; ARCD opens some questions with a dash (" - من هو ...؟"), dropped."""
    lang = source.langs[0]
    for name in source.files:
        for p in squad_paragraphs(directory / name):
            for _, question in p.questions:
                question = question.strip().removeprefix("- ").strip()
                yield QGExample(source.name, "same-language", lang, p.title, p.context, question, p.context)


def hiquad(source: QGSource, directory: Path) -> Iterator[QGExample]:
    """Line-parallel ``answer_{split}.txt`` (the sentence) and ``question_{split}.txt``."""
    for split in ("train", "val", "test"):
        sentences = read_text(directory / f"answer_{split}.txt").splitlines()
        questions = read_text(directory / f"question_{split}.txt").splitlines()
        if len(sentences) != len(questions):
            raise DataFormatError(directory / f"question_{split}.txt", None, None,
                                  f"{len(questions)} lines, but answer_{split}.txt has {len(sentences)}")
        for sentence, question in zip(sentences, questions):
            if sentence.strip() and question.strip():
                yield QGExample(source.name, "same-language", "hi", "", sentence.strip(), question.strip(),
                                sentence.strip())


def mintaka(source: QGSource, directory: Path) -> Iterator[QGExample]:
    path = directory / "mintaka_dev.json"
    rows = _load_json(path)
    if not isinstance(rows, list):
        raise DataFormatError(path, None, None, "expected a list of questions")
    for i, row in enumerate(rows):
        english = _require(row, "question", str, path, None, f"[{i}].")
        translations = _require(row, "translations", dict, path, None, f"[{i}].")
        for lang in source.langs:
            if isinstance(translations.get(lang), str) and translations[lang].strip():
                yield QGExample(source.name, "en-question", lang, "", english, translations[lang].strip(), english)


def rubq(source: QGSource, directory: Path) -> Iterator[QGExample]:
    """RuBQ questions with their English translation, each distinct Russian question once
    (RuBQ 2.0 dev repeats 1.0's)."""
    seen: set[str] = set()
    for name in source.files:
        path = directory / name
        rows = _load_json(path)
        if not isinstance(rows, list):
            raise DataFormatError(path, None, None, "expected a list of questions")
        for i, row in enumerate(rows):
            russian = _require(row, "question_text", str, path, None, f"[{i}].").strip()
            english = row.get("question_eng")
            if isinstance(english, str) and english.strip() and russian and russian not in seen:
                seen.add(russian)
                yield QGExample(source.name, "en-question", "ru", "", english.strip(), russian, english.strip())


def load_qg_source(name: str, qg_dir: Path, xquad_en: Path, exclude: str = "paragraph") -> list[QGExample]:
    """Every example of one source; a missing file names the source and how to get it."""
    source = QG_SOURCES[name]
    directory = qg_dir / name
    missing = [f for f in source.files if not (directory / f).is_file()]
    if missing:
        raise MissingResourceError(f"{directory}: missing {', '.join(missing)}; "
                                   f"`python -m xqg_core data download qg-{name} --to DIR` fetches them")
    if source.kind == "en-context":
        twin_dir = qg_dir / TWIN
        twin_file = twin_dir / next(iter(QG_SOURCES[TWIN].files))
        if not twin_file.is_file():
            raise MissingResourceError(f"{twin_file}: missing; `python -m xqg_core data download qg-{TWIN} --to DIR`")
        return list(translated_squad(source, directory, XquadGuard(xquad_en, exclude), english_twin(twin_file)))
    reader = {"cmrc2018": same_language_squad, "arcd": same_language_squad, "hiquad": hiquad, "mintaka": mintaka,
              "rubq": rubq}[name]
    return list(reader(source, directory))


def source_counts(examples: list[QGExample]) -> dict[str, int]:
    """``{kind}/{lang}`` -> examples, for ``data list`` and the training log."""
    counts: dict[str, int] = {}
    for e in examples:
        counts[f"{e.kind}/{e.lang}"] = counts.get(f"{e.kind}/{e.lang}", 0) + 1
    return dict(sorted(counts.items()))

