from __future__ import annotations

import json

import numpy as np

import pytest
from safetensors.torch import load_file

from xqg_core.cli import main
from xqg_core.data import Passage
from xqg_core.errors import DataFormatError, XqgError
from xqg_core.generate import load_generator
from xqg_core.train_generator import GeneratorTrainConfig, build_pairs, is_heldout, train


def tiny_config(tmp_path, name, steps, **extra):
    return GeneratorTrainConfig(output_dir=str(tmp_path / name), langs=("de", "ja"), layers=1, steps=steps,
                                batch_size=4, checkpoint_every=2, max_train_pairs=12, use_tydi=False,
                                max_source_len=64, max_target_len=16, **extra)


def test_pairs_hold_out_whole_contexts_and_skip_eval_sets(data_dir):
    cfg = GeneratorTrainConfig(langs=("de", "ja", "ru"), data_dir=str(data_dir))
    pairs = build_pairs(cfg)
    train_contexts = {p.group for p in pairs.train if p.origin == "mlqa"}
    held = {p.group for p in pairs.heldout}
    assert held and not (held & train_contexts)
    assert all(is_heldout(c, 10) for c in held)
    assert 0.05 < len(held) / (len(held) + len(train_contexts)) < 0.15
    assert {p.origin for p in pairs.train} == {"mlqa", "tydi", "xor-translation"}
    assert {p.lang for p in pairs.train} == {"de", "ja", "ru"}  # ja: XOR translations only


def test_interrupted_training_resumes_to_identical_weights(tmp_path, data_dir, monkeypatch):
    from xqg_core import train_generator as tg

    straight = train(tiny_config(tmp_path, "straight", 4, data_dir=str(data_dir)))
    save = tg._save_checkpoint

    def save_then_die(model, optimizer, step, out, save_file, cfg):
        save(model, optimizer, step, out, save_file, cfg)
        if step == 2:
            raise KeyboardInterrupt  # killed right after the step-2 checkpoint

    monkeypatch.setattr(tg, "_save_checkpoint", save_then_die)
    with pytest.raises(KeyboardInterrupt):
        train(tiny_config(tmp_path, "resumed", 4, data_dir=str(data_dir)))
    assert not (tmp_path / "resumed" / "model.safetensors").exists()
    monkeypatch.setattr(tg, "_save_checkpoint", save)
    resumed = train(tiny_config(tmp_path, "resumed", 4, data_dir=str(data_dir)))
    assert json.loads((resumed / "checkpoint.json").read_text())["step"] == 4
    a, b = load_file(str(straight / "model.safetensors")), load_file(str(resumed / "model.safetensors"))
    assert a.keys() == b.keys()
    for key in a:
        assert (a[key] == b[key]).all(), key
    with pytest.raises(XqgError, match="another configuration"):
        train(tiny_config(tmp_path, "resumed", 6, data_dir=str(data_dir)))
    gen = load_generator(f"me5-qg:{resumed}", device="cpu")
    out = gen.generate([Passage("p", "Tokyo", "Tokyo is the capital of Japan.")], ["de", "ja"], 2, seed=3)
    assert set(out[0]) == {"de", "ja"} and len(out[0]["ja"]) == 2
    assert gen.generate([Passage("p", "Tokyo", "Tokyo is the capital of Japan.")], ["de", "ja"], 2, seed=3) == out
    # a passage's queries do not depend on its batch-mates or on the other languages asked for
    other = Passage("q", "Nile", "The Nile is the longest river in Africa, flowing north.")
    both = gen.generate([other, Passage("p", "Tokyo", "Tokyo is the capital of Japan.")], ["ja"], 2, seed=3)
    assert both[1]["ja"] == out[0]["ja"]


def test_config_rejects_unknown_settings(tmp_path):
    bad = tmp_path / "g.yaml"
    bad.write_text("steps: 10\nlearning_rate: 0.1\n")
    with pytest.raises(DataFormatError, match="learning_rate"):
        GeneratorTrainConfig.from_yaml(bad)
    assert main(["train-generator", "--config", str(bad)]) == 2


def test_language_lexicon_marks_the_pieces_of_each_language():
    from xqg_core.train_generator import Pair, language_lexicon

    pairs = [Pair("s", "de", "t", "mlqa", "g"), Pair("s", "ja", "t", "mlqa", "g"), Pair("s", "de", "t", "mlqa", "g")]
    targets = [[10, 2], [11, 12, 2], [13, 2]]
    vocab = np.array([2, 3, 10, 11, 12, 13])
    lex = language_lexicon(pairs, targets, vocab, ("de", "ja"))
    assert lex.tolist() == [[True, False, True, False, False, True], [True, False, False, True, True, False]]
