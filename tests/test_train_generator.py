from __future__ import annotations

import json

import numpy as np
import pytest
from safetensors.torch import load_file

from xqg_core.cli import main
from xqg_core.data.records import Passage
from xqg_core.errors import DataFormatError, XqgError
from xqg_core.models.generate import load_generator
from xqg_core.models.qg_data import GeneratorTrainConfig, build_pairs, is_heldout
from xqg_core.models.train_generator import train


def tiny_config(tmp_path, name, steps, **extra):
    return GeneratorTrainConfig(output_dir=str(tmp_path / name), langs=("de", "ja"), layers=1, steps=steps,
                                batch_size=4, checkpoint_every=2, max_train_pairs=12, use_tydi=False,
                                max_source_len=64, max_target_len=16, copy=True, dropout=0.1, eval_every=2,
                                **extra)


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


@pytest.mark.parametrize("speed", [{}, {"pack_sources": True, "bf16": True}], ids=["plain", "packed-bf16"])
def test_interrupted_training_resumes_to_identical_weights(tmp_path, data_dir, monkeypatch, speed):
    """With the copy mechanism, dropout and held-out evaluation: a killed run resumes to
    the same weights (dropout masks are seeded by step) and the same best checkpoint; so
    does a run with packed passages and a bfloat16 forward pass."""
    from xqg_core.models import train_generator as tg

    straight = train(tiny_config(tmp_path, "straight", 4, data_dir=str(data_dir), **speed))
    meta = json.loads((straight / "generator.json").read_text())
    assert meta["model"]["copy"] and meta["heldout_loss"]["true"] > 0 and meta["heldout_loss"]["step"] in (2, 4)
    save = tg._save_checkpoint

    def save_then_die(model, optimizer, step, best, out, save_file, cfg):
        save(model, optimizer, step, best, out, save_file, cfg)
        if step == 2:
            raise KeyboardInterrupt  # killed right after the step-2 checkpoint

    monkeypatch.setattr(tg, "_save_checkpoint", save_then_die)
    with pytest.raises(KeyboardInterrupt):
        train(tiny_config(tmp_path, "resumed", 4, data_dir=str(data_dir), **speed))
    assert not (tmp_path / "resumed" / "model.safetensors").exists()
    monkeypatch.setattr(tg, "_save_checkpoint", save)
    resumed = train(tiny_config(tmp_path, "resumed", 4, data_dir=str(data_dir), **speed))
    assert json.loads((resumed / "checkpoint.json").read_text())["step"] == 4
    a, b = load_file(str(straight / "model.safetensors")), load_file(str(resumed / "model.safetensors"))
    assert a.keys() == b.keys()
    for key in a:
        assert (a[key] == b[key]).all(), key
    with pytest.raises(XqgError, match="another configuration"):
        train(tiny_config(tmp_path, "resumed", 6, data_dir=str(data_dir), **speed))
    gen = load_generator(f"me5-qg:{resumed}", device="cpu")
    out = gen.generate([Passage("p", "Tokyo", "Tokyo is the capital of Japan.")], ["de", "ja"], 2, seed=3)
    assert set(out[0]) == {"de", "ja"} and len(out[0]["ja"]) == 2
    assert gen.generate([Passage("p", "Tokyo", "Tokyo is the capital of Japan.")], ["de", "ja"], 2, seed=3) == out
    # a passage's queries do not depend on its batch-mates or on the other languages asked for
    other = Passage("q", "Nile", "The Nile is the longest river in Africa, flowing north.")
    both = gen.generate([other, Passage("p", "Tokyo", "Tokyo is the capital of Japan.")], ["ja"], 2, seed=3)
    assert both[1]["ja"] == out[0]["ja"]


def test_a_snapshot_is_the_runs_best_weights_as_a_generator(tmp_path, data_dir):
    """``train-generator --snapshot DIR``: the best weights so far as a generator directory; for a
    finished run, the same weights, lexicon and queries as the run's own output."""
    from xqg_core.models.train_generator import snapshot

    cfg = tiny_config(tmp_path, "run", 4, data_dir=str(data_dir))
    with pytest.raises(XqgError, match="no held-out evaluation has kept weights yet"):
        snapshot(cfg, tmp_path / "early")
    run = train(cfg)
    with pytest.raises(XqgError, match="the run's own directory"):
        snapshot(cfg, run)
    snap = snapshot(cfg, tmp_path / "snap")
    for name in ("model.safetensors", "lexicon.safetensors"):
        a, b = load_file(str(run / name)), load_file(str(snap / name))
        assert a.keys() == b.keys() and all((a[k] == b[k]).all() for k in a), name
    meta = json.loads((snap / "generator.json").read_text())
    assert meta["heldout_loss"]["step"] == json.loads((run / "checkpoint.json").read_text())["best"]["step"]
    passage = [Passage("p", "Tokyo", "Tokyo is the capital of Japan.")]
    assert (load_generator(f"me5-qg:{snap}", device="cpu").generate(passage, ["de"], 2, seed=1)
            == load_generator(f"me5-qg:{run}", device="cpu").generate(passage, ["de"], 2, seed=1))


def test_config_rejects_unknown_settings(tmp_path):
    bad = tmp_path / "g.yaml"
    bad.write_text("steps: 10\nlearning_rate: 0.1\n")
    with pytest.raises(DataFormatError, match="learning_rate"):
        GeneratorTrainConfig.from_yaml(bad)
    assert main(["train-generator", "--config", str(bad)]) == 2


def test_language_lexicon_marks_the_pieces_of_each_language():
    from xqg_core.models.qg_data import Pair, language_lexicon

    pairs = [Pair("s", "de", "t", "mlqa", "g"), Pair("s", "ja", "t", "mlqa", "g"), Pair("s", "de", "t", "mlqa", "g")]
    targets = [[10, 2], [11, 12, 2], [13, 2]]
    vocab = np.array([2, 3, 10, 11, 12, 13])
    lex = language_lexicon(pairs, targets, vocab, ("de", "ja"))
    assert lex.tolist() == [[True, False, True, False, False, True], [True, False, False, True, True, False]]


def test_shipped_float16_weights_generate_like_the_trained_ones(tmp_path, data_dir):
    from xqg_core.models.train_generator import ship_generator

    trained = train(tiny_config(tmp_path, "t", 2, data_dir=str(data_dir)))
    shipped = ship_generator(trained, tmp_path / "shipped")
    state = load_file(str(shipped / "model.safetensors"))
    assert {str(v.dtype) for k, v in state.items() if v.is_floating_point()} == {"torch.float16"}
    passage = [Passage("p", "Tokyo", "Tokyo is the capital of Japan.")]
    a = load_generator(f"me5-qg:{trained}", device="cpu").generate(passage, ["de"], 3, seed=1)
    b = load_generator(f"me5-qg:{shipped}", device="cpu").generate(passage, ["de"], 3, seed=1)
    assert len(b[0]["de"]) == 3 and sum(x == y for x, y in zip(a[0]["de"], b[0]["de"])) >= 2  # float16 rounding only
    assert ship_generator(trained, tmp_path / "shipped") == shipped and not (tmp_path / "shipped.partial").exists()


def test_weights_over_their_budget_are_not_shipped(tmp_path, monkeypatch):
    """Shipping refuses weights over the budget, names the file, and leaves the shipped ones."""
    import torch
    from safetensors.torch import save_file

    from xqg_core.models import train_generator

    trained = tmp_path / "trained"
    trained.mkdir()
    save_file({"w": torch.zeros(1000, dtype=torch.float32)}, str(trained / "model.safetensors"))
    (trained / "generator.json").write_text("{}")
    save_file({"lexicon": torch.zeros(1, dtype=torch.bool)}, str(trained / "lexicon.safetensors"))
    shipped = train_generator.ship_generator(trained, tmp_path / "shipped")
    before = {p.name: p.read_bytes() for p in shipped.iterdir()}
    assert len(before["model.safetensors"]) < 4000  # float16: 2 bytes a weight, plus the header
    monkeypatch.setattr(train_generator, "MAX_WEIGHTS_BYTES", 1500)
    with pytest.raises(XqgError, match=r"the generator weights total [\d.]+ MB, over the 0.0015 MB limit"):
        train_generator.ship_generator(trained, shipped)
    monkeypatch.setattr(train_generator, "MAX_FILE_BYTES", 1000)
    with pytest.raises(XqgError, match=r"model.safetensors is [\d.]+ MB, over the 0.001 MB limit per file"):
        train_generator.ship_generator(trained, shipped)
    assert {p.name: p.read_bytes() for p in shipped.iterdir()} == before
    assert not (tmp_path / "shipped.partial").exists()


def test_heldout_losses_see_the_passage_of_a_copying_model():
    """The true-vs-shuffled loss gap: a model that copies from its passage scores its own
    passage's pieces higher than another passage's."""
    import torch

    from tests.test_qg_model import tiny_model
    from xqg_core.models.qg_data import Batcher, Pair
    from xqg_core.models.train_generator import heldout_losses

    model = tiny_model(copy=True)
    with torch.no_grad():  # generate nothing from the vocabulary: every piece must be copied
        model.copier.gate.bias.fill_(-20.0)
    sources = ["passage: ", "passage: a", "passage: b"]
    ids = [[0, 4, 6, 2], [0, 4, 6, 5, 2], [0, 4, 6, 7, 2]]  # <s> passage : x </s>
    offsets = np.cumsum([0] + [len(x) for x in ids])
    states = np.random.default_rng(0).normal(size=(offsets[-1], 16)).astype(np.float16)
    batcher = Batcher(sources, states, offsets, ids, {"passage": 2, "query": 2}, model.vocab.numpy(), ("de", "ja"))
    pairs = [Pair("passage: a", "de", "x", "mlqa", "a"), Pair("passage: b", "de", "y", "mlqa", "b")]
    losses = heldout_losses(model, batcher, pairs, [[5, 2], [7, 2]], seed=0)
    assert losses["true"] < losses["shuffled"] and losses["true"] < losses["empty"]


def test_cached_encoder_states_belong_to_their_sources_and_length(tmp_path):
    """The frozen encoder's states are reused for the same sources cut at the same length;
    another ``max_source_len`` re-encodes them (stale states would misalign the passages)."""
    from xqg_core.models.encoders import load_encoder
    from xqg_core.models.qg_data import encode_sources

    me5 = load_encoder("me5-small", device="cpu")
    sources = ["passage: Tokyo is the capital of Japan and its largest city.", "passage: "]
    long_states, long_offsets = encode_sources(sources, tmp_path, GeneratorTrainConfig(max_source_len=64), me5)
    again, _ = encode_sources(sources, tmp_path, GeneratorTrainConfig(max_source_len=64), me5)
    assert (again == long_states).all()
    short_states, short_offsets = encode_sources(sources, tmp_path, GeneratorTrainConfig(max_source_len=6), me5)
    assert short_offsets[1] == 6 < long_offsets[1] and short_states.shape[0] == short_offsets[2]
    assert short_offsets[2] - short_offsets[1] == long_offsets[2] - long_offsets[1]  # the empty passage fits both
    assert json.loads((tmp_path / "encoder_states.json").read_text())["max_source_len"] == 6
