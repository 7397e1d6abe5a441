from __future__ import annotations

import json

import pytest
import torch

from xqg_core.cli import main
from xqg_core.data.records import Passage
from xqg_core.errors import XqgError
from xqg_core.models.generate import (
    ReleasedQueries,
    check_languages,
    format_prompt,
    generate_to_shards,
    load_generator,
    read_generation_run,
)

PASSAGES = [Passage(f"d{i}", f"Title {i}", f"the river nile is long {i}") for i in range(7)]


def test_paper_prompt():
    assert format_prompt("ja", "Tokyo", "Tokyo is big.") == \
        "Generate a Japanese question for this passage: Tokyo Tokyo is big."
    assert format_prompt("ar", "T", "x").startswith("Generate a Arabic question")  # the paper's wording, verbatim


def test_unknown_language_is_a_clear_error():
    with pytest.raises(XqgError, match="unknown language code.*'xx'.*known: ar"):
        check_languages(["ar", "xx"])


def test_hf_seq2seq_generates_n_per_language_and_is_seeded(tiny_t5_dir):
    gen = load_generator(str(tiny_t5_dir), device="cpu", batch_size=4)
    a = gen.generate(PASSAGES[:3], ["ar", "de"], 5, seed=7)
    assert len(a) == 3 and all(set(q) == {"ar", "de"} and len(q["ar"]) == 5 for q in a)
    assert any(t for q in a for t in q["ar"])  # a random model still samples words
    assert gen.generate(PASSAGES[:3], ["ar", "de"], 5, seed=7) == a
    assert gen.generate(PASSAGES[:3], ["ar", "de"], 5, seed=8) != a


@pytest.fixture(scope="module")
def tiny_gpt2_dir(tmp_path_factory):
    """A randomly initialised 1-layer GPT-2 with a word-level tokenizer (no pad token, as GPT-2)."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    d = tmp_path_factory.mktemp("tiny-gpt2")
    words = "<eos> <unk> generate a german japanese question for this passage: title the river nile is long".split()
    words += [f"w{i}" for i in range(30)]
    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<eos>", unk_token="<unk>").save_pretrained(d)
    torch.manual_seed(0)
    GPT2LMHeadModel(GPT2Config(vocab_size=len(words), n_embd=16, n_layer=1, n_head=2, n_positions=128,
                               bos_token_id=0, eos_token_id=0)).save_pretrained(d)
    return d


def test_hf_causal_lm_returns_only_the_continuation(tiny_gpt2_dir):
    gen = load_generator(str(tiny_gpt2_dir), device="cpu", batch_size=3)
    assert not gen.seq2seq and gen.tokenizer.padding_side == "left"
    out = gen.generate(PASSAGES[:3], ["de"], 2, seed=1)
    assert all(len(q["de"]) == 2 for q in out)
    # the prompt is not echoed: a continuation never starts with the template's words
    assert not any(t.startswith("generate a german question") for q in out for t in q["de"])
    assert gen.generate(PASSAGES[:3], ["de"], 2, seed=1) == out


class CountingGenerator:
    """Wraps a generator; fails on the shard whose first passage is ``fail_on``."""

    def __init__(self, inner, fail_on=None):
        self.inner, self.name, self.fail_on, self.calls = inner, inner.name, fail_on, []

    def generate(self, passages, langs, n, seed):
        self.calls.append(passages[0].docid)
        if passages[0].docid == self.fail_on:
            raise KeyboardInterrupt  # as if the run were killed here
        return self.inner.generate(passages, langs, n, seed)


def test_interrupted_run_resumes_to_the_same_output(tiny_t5_dir, tmp_path):
    inner = load_generator(str(tiny_t5_dir), device="cpu")
    full = generate_to_shards(inner, PASSAGES, ["ja"], 2, tmp_path / "full", shard_size=3, show_progress=False)
    killed = CountingGenerator(inner, fail_on="d3")
    with pytest.raises(KeyboardInterrupt):
        generate_to_shards(killed, PASSAGES, ["ja"], 2, tmp_path / "resumed", shard_size=3, show_progress=False)
    assert sorted(p.name for p in (tmp_path / "resumed").iterdir()) == ["run.json", "shard-00000.jsonl"]
    again = CountingGenerator(inner)
    generate_to_shards(again, PASSAGES, ["ja"], 2, tmp_path / "resumed", shard_size=3, show_progress=False)
    assert again.calls == ["d3", "d6"]  # the finished shard is not regenerated
    assert read_generation_run(tmp_path / "resumed") == read_generation_run(full)
    with pytest.raises(XqgError, match="other settings .*give another --output, or delete that directory"):
        generate_to_shards(inner, PASSAGES, ["ja"], 3, tmp_path / "resumed", shard_size=3, show_progress=False)
    with pytest.raises(XqgError, match="shard_size must be at least 1"):  # refused before run.json is touched
        generate_to_shards(inner, PASSAGES, ["ja"], 2, tmp_path / "bad", shard_size=0, show_progress=False)
    assert not (tmp_path / "bad").exists()
    # a scratch directory its owner may restart: other settings empty it, the new run is complete
    generate_to_shards(inner, PASSAGES, ["ja"], 2, tmp_path / "resumed", shard_size=4, show_progress=False,
                       restart_other_runs=True)
    clean = generate_to_shards(inner, PASSAGES, ["ja"], 2, tmp_path / "clean4", shard_size=4, show_progress=False)
    assert read_generation_run(tmp_path / "resumed") == read_generation_run(clean)
    assert sorted(p.name for p in (tmp_path / "resumed").iterdir()) == ["run.json", "shard-00000.jsonl", "shard-00001.jsonl"]


def test_a_run_that_wrote_no_shard_does_not_hold_its_directory(tiny_t5_dir, tmp_path):
    """`--n 5` fails before its first shard; `--n 2` in the same directory then runs (it was
    told the directory held a run with other settings)."""
    inner = load_generator(str(tiny_t5_dir), device="cpu")
    with pytest.raises(KeyboardInterrupt):
        generate_to_shards(CountingGenerator(inner, fail_on="d0"), PASSAGES, ["ja"], 5, tmp_path / "out",
                           shard_size=3, show_progress=False)
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["run.json"]
    generate_to_shards(inner, PASSAGES, ["ja"], 2, tmp_path / "out", shard_size=3, show_progress=False)
    full = generate_to_shards(inner, PASSAGES, ["ja"], 2, tmp_path / "full", shard_size=3, show_progress=False)
    assert read_generation_run(tmp_path / "out") == read_generation_run(full)


def test_released_reader_and_cli(tmp_path, capsys):
    released = tmp_path / "released.jsonl"
    released.write_text("\n".join(json.dumps({"docid": p.docid, "text": p.text, "generated_queries": {
        "ar": [f"{p.docid} ar {i}" for i in range(5)], "ja": [f"{p.docid} ja {i}" for i in range(5)]}})
        for p in PASSAGES) + "\n")
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("\n".join(json.dumps({"docid": p.docid, "title": p.title, "text": p.text}) for p in PASSAGES))
    assert main(["generate", "--generator", f"released:{released}", "--input", str(corpus), "--langs", "ja",
                 "--n", "2", "--output", str(tmp_path / "run"), "--shard-size", "4"]) == 0
    recs = read_generation_run(tmp_path / "run")
    assert [r.docid for r in recs] == [p.docid for p in PASSAGES]
    assert recs[2].queries == {"ja": ("d2 ja 0", "d2 ja 1")}
    with pytest.raises(XqgError, match="fewer than 9"):
        ReleasedQueries(released).generate(PASSAGES[:1], ["ar"], 9, 0)
    assert main(["generate", "--generator", f"released:{released}", "--input", str(corpus), "--langs", "xx",
                 "--output", str(tmp_path / "bad")]) == 2
    assert "unknown language code" in capsys.readouterr().err


def test_the_shipped_me5_qg_generates_without_training(tmp_path):
    """A fresh clone generates with the float16 weights in cached_artifacts/generator (no
    train-generator run): the default me5-qg loads them, through the CLI too."""
    from xqg_core.models.generate import Me5QueryGenerator, load_generator
    from xqg_core.paths import SHIPPED_GENERATOR_DIR

    assert (SHIPPED_GENERATOR_DIR / "model.safetensors").is_file(), "the generator weights must ship in git"
    gen = load_generator("me5-qg", device="cpu")
    assert isinstance(gen, Me5QueryGenerator) and gen.directory == SHIPPED_GENERATOR_DIR and gen.model.copier is not None
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text(json.dumps({"docid": "tokyo", "title": "Tokyo", "text": "Tokyo is the capital and largest city "
                                  "of Japan, with about 14 million residents in the city proper."}) + "\n")
    assert main(["generate", "--generator", "me5-qg", "--input", str(corpus), "--langs", "de,zh", "--n", "3",
                 "--output", str(tmp_path / "run")]) == 0
    rec = read_generation_run(tmp_path / "run")[0]
    assert [len(rec.queries[lang]) for lang in ("de", "zh")] == [3, 3] and all(q for qs in rec.queries.values() for q in qs)
    again = gen.generate([Passage("tokyo", "Tokyo", json.loads(corpus.read_text())["text"])], ["de", "zh"], 3, seed=42)
    assert {lang: tuple(qs) for lang, qs in again[0].items()} == rec.queries  # the CLI's default seed is 42
