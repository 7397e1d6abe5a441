"""Where each dataset officially lives, and ``python -m xqg_core data download NAME --to DIR``.

The download writes the same layout the loaders read (the layout of ``../shared/data``),
so a user with internet access can point ``--data-dir`` at the result. Offline, it fails
at once with a one-line message.
"""
from __future__ import annotations

import io
import json
import shutil
import tarfile
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from xqg_core.data.records import PAWSX_LANGS
from xqg_core.errors import OfflineError, XqgError
from xqg_core.io import atomic_path

TIMEOUT_S = 30


@dataclass(frozen=True)
class DatasetSource:
    """A dataset the project reads, its official source and the files the loaders expect."""

    name: str
    folder: str
    description: str
    license: str
    official: str  # URL or Hugging Face id, for people
    required_files: tuple[str, ...]  # relative to the data directory, checked by `data check`
    fetch: Callable[[Path], None] | None = None  # writes into {to}/{folder}; None: no direct download


def _http_get(url: str) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as resp:
            return resp.read()
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise OfflineError(f"cannot download {url}: {reason} (no internet access? copy the files by hand instead)") from None


def _write(path: Path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def _fetch_files(base: str, names: list[str]) -> Callable[[Path], None]:
    def fetch(dest: Path) -> None:
        for name in names:
            _write(dest / name, _http_get(f"{base}/{name}"))

    return fetch


XOR_BASE = "https://nlp.cs.washington.edu/xorqa/XORQA_site/data"
XQUAD_BASE = "https://raw.githubusercontent.com/google-deepmind/xquad/master"
XQUAD_LANGS = ("ar", "de", "en", "es", "hi", "ru", "vi", "zh")
MLQA_URL = "https://dl.fbaipublicfiles.com/MLQA/MLQA_V1.zip"
MLQA_LANGS = ("ar", "de", "en", "es", "hi", "vi", "zh")
PAWSX_URL = "https://storage.googleapis.com/paws/pawsx/x-final.tar.gz"
TYDI_GOLDP = {
    "train": "https://storage.googleapis.com/tydiqa/v1.1/tydiqa-goldp-v1.1-train.json",
    "dev": "https://storage.googleapis.com/tydiqa/v1.1/tydiqa-goldp-v1.1-dev.json",
}
TYDI_LANG_NAMES = {
    "arabic": "ar", "bengali": "bn", "english": "en", "finnish": "fi", "indonesian": "id",
    "japanese": "ja", "korean": "ko", "russian": "ru", "swahili": "sw", "telugu": "te", "thai": "th",
}


def _fetch_mlqa(dest: Path) -> None:
    archive = zipfile.ZipFile(io.BytesIO(_http_get(MLQA_URL)))
    for lang in MLQA_LANGS:
        name = f"dev-context-en-question-{lang}.json"
        _write(dest / name, archive.read(f"MLQA_V1/dev/{name}"))


def _fetch_pawsx(dest: Path) -> None:
    """x-final/{lang}/{dev_2k,test_2k}.tsv (header id, sentence1, sentence2, label) -> {split}-{lang}.tsv."""
    with tarfile.open(fileobj=io.BytesIO(_http_get(PAWSX_URL)), mode="r:gz") as tar:
        for lang in PAWSX_LANGS:
            for split in ("dev", "test"):
                member = tar.extractfile(f"x-final/{lang}/{split}_2k.tsv")
                if member is None:
                    raise XqgError(f"{PAWSX_URL}: x-final/{lang}/{split}_2k.tsv missing from the archive")
                _write(dest / f"{split}-{lang}.tsv", member.read())


def _fetch_tydi_goldp(dest: Path) -> None:
    """Split the official GoldP files per language by id prefix, as XTREME does."""
    for split, url in TYDI_GOLDP.items():
        doc = json.loads(_http_get(url))
        per_lang: dict[str, list] = {}
        for article in doc["data"]:
            qid = article["paragraphs"][0]["qas"][0]["id"]
            lang = TYDI_LANG_NAMES[qid.split("-", 1)[0]]
            per_lang.setdefault(lang, []).append(article)
        for lang, articles in per_lang.items():
            payload = json.dumps({"data": articles, "version": doc.get("version", "1.1")}, ensure_ascii=False)
            _write(dest / split / f"tydiqa.goldp.{lang}.{split}.json", payload.encode("utf-8"))


def _hf_dataset_fetcher(repo_id: str) -> Callable[[Path], None]:
    def fetch(dest: Path) -> None:
        from huggingface_hub import snapshot_download
        from huggingface_hub.utils import logging as hub_logging

        hub_logging.set_verbosity_error()  # offline, the hub client logs every retry; one line is enough
        try:
            snapshot_download(repo_id=repo_id, repo_type="dataset", local_dir=dest)
        except Exception as exc:  # the hub client raises many kinds of connection errors
            raise OfflineError(f"cannot download Hugging Face dataset {repo_id}: {type(exc).__name__} (no internet access?)") from None

    return fetch


DATASETS: dict[str, DatasetSource] = {
    s.name: s
    for s in [
        DatasetSource(
            "xor_tydi", "xor_tydi", "XOR-TyDi QA, XOR-Retrieve questions (Asai et al., NAACL 2021)",
            "CC BY-SA 4.0 (data), MIT (code)",
            f"{XOR_BASE} (github.com/AkariAsai/XORQA; HF akariasai/xor_tydi_qa)",
            ("xor_tydi/xor_dev_retrieve_eng_span_v1_1.jsonl", "xor_tydi/xor_train_retrieve_eng_span.jsonl"),
            _fetch_files(XOR_BASE, ["xor_dev_retrieve_eng_span_v1_1.jsonl", "xor_train_retrieve_eng_span.jsonl"]),
        ),
        DatasetSource(
            "xor_tydi_corpus", "xor_tydi_corpus", "English Wikipedia 2019-02-01 in 100-word passages (18M), Tevatron form",
            "CC BY-SA 3.0", "HF dataset Tevatron/xor-tydi-corpus", (), _hf_dataset_fetcher("Tevatron/xor-tydi-corpus"),
        ),
        DatasetSource(
            "xqg_queries", "xqg_queries", "The paper's released generated queries (5 x 7 languages per passage)",
            "see the dataset card", "HF dataset ielab/xor-tydi-xqg-augmented", (), _hf_dataset_fetcher("ielab/xor-tydi-xqg-augmented"),
        ),
        DatasetSource(
            "pawsx", "pawsx", "PAWS-X human-translated dev/test (Yang et al., EMNLP 2019)",
            "free for any purpose, credit Google", f"{PAWSX_URL} (HF google-research-datasets/paws-x)",
            tuple(f"pawsx/{split}-{lang}.tsv" for split in ("dev", "test") for lang in PAWSX_LANGS), _fetch_pawsx,
        ),
        DatasetSource(
            "xquad", "xquad", "XQuAD (Artetxe et al., ACL 2020)", "CC BY-SA 4.0", "github.com/google-deepmind/xquad",
            tuple(f"xquad/xquad.{lang}.json" for lang in XQUAD_LANGS),
            _fetch_files(XQUAD_BASE, [f"xquad.{lang}.json" for lang in XQUAD_LANGS]),
        ),
        DatasetSource(
            "mlqa_dev", "mlqa_dev", "MLQA v1 dev, English contexts with questions in 7 languages", "CC BY-SA 3.0",
            f"{MLQA_URL} (github.com/facebookresearch/MLQA)",
            tuple(f"mlqa_dev/dev-context-en-question-{lang}.json" for lang in MLQA_LANGS), _fetch_mlqa,
        ),
        DatasetSource(
            "tydiqa_goldp", "tydiqa_goldp", "TyDi QA GoldP v1.1, split per language as in XTREME", "Apache 2.0",
            "github.com/google-research-datasets/tydiqa", ("tydiqa_goldp/dev/tydiqa.goldp.en.dev.json",), _fetch_tydi_goldp,
        ),
    ]
}


def qg_dataset(name: str) -> DatasetSource:
    """``qg-{source}``: a question-generation training source (:mod:`xqg_core.data.qg_sources`),
    fetched file by file from its repository at the pinned commit into ``{to}/qg/{source}``."""
    from xqg_core.data.qg_sources import QG_SOURCES

    source = QG_SOURCES[name.removeprefix("qg-")]

    def fetch(dest: Path) -> None:
        for local in source.files:
            _write(dest / local, _http_get(source.url(local)))

    return DatasetSource(name, f"qg/{source.name}", source.description, source.license,
                         f"github.com/{source.repository} @ {source.commit[:10]}", (), fetch)


def download_dataset(name: str, to: str | Path) -> Path:
    """Fetch dataset ``name`` from its official source into ``{to}/{folder}``; return that folder."""
    from xqg_core.data.qg_sources import QG_SOURCES

    if name.startswith("qg-") and name.removeprefix("qg-") in QG_SOURCES:
        source = qg_dataset(name)
    elif name in DATASETS:
        source = DATASETS[name]
    else:
        raise XqgError(f"unknown dataset {name!r}; choose from {', '.join(DATASETS)} or qg-NAME "
                       f"({', '.join(QG_SOURCES)})")
    if source.fetch is None:
        raise XqgError(f"{name} has no direct download; get it from {source.official}")
    dest = Path(to) / source.folder
    staging = Path(to) / f".{source.folder.replace('/', '-')}.partial"  # qg/NAME: the parent only once complete
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    try:
        source.fetch(staging)
        if dest.exists():
            shutil.rmtree(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        staging.rename(dest)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    return dest


def check_data_dir(data_dir: str | Path) -> dict[str, list[str]]:
    """Dataset name -> list of its expected files missing from ``data_dir`` (empty: complete)."""
    root = Path(data_dir)
    return {
        s.name: [f for f in s.required_files if not (root / f).is_file()]
        for s in DATASETS.values()
        if s.required_files
    }
