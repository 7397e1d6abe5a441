from __future__ import annotations

import torch

from xqg_core.qg_model import QGConfig, QueryGenerator, script_masks


def tiny_model(seed: int = 0) -> QueryGenerator:
    torch.manual_seed(seed)
    cfg = QGConfig(hidden=16, heads=2, ffn=32, layers=2, max_target_len=8, langs=("de", "ja"))
    vocab = torch.tensor([0, 2, 3, 5, 7, 9, 11, 13])  # output pieces: a subset of a 20-piece vocabulary
    model = QueryGenerator(cfg, vocab, torch.randn(20, 16), torch.randn(40, 16))
    with torch.no_grad():
        model.out_bias.normal_()
    return model.eval()


def test_cached_decoding_matches_teacher_forcing():
    """The key/value cache must give the same next-token logits as a full causal pass."""
    model = tiny_model()
    enc, mask = torch.randn(1, 6, 16), torch.tensor([[1, 1, 1, 1, 0, 0]])
    tokens = torch.tensor([[0, 5, 9, 7]])
    lang = model.lang_index(["ja"])
    with torch.no_grad():
        full = model(tokens, lang, enc, mask)[0]
        ck = model.cross_states(enc)
        cmask = model.cross_mask(mask)
        caches = [[] for _ in model.layers]
        for step in range(tokens.shape[1]):
            x = model.embed(tokens[:, step : step + 1], step, lang)
            for layer, cache, (k, v) in zip(model.layers, caches, ck):
                x = layer(x, k, v, cmask, cache)
            torch.testing.assert_close(model.logits(x)[0, 0], full[step], atol=1e-5, rtol=1e-4)


def test_padding_of_the_encoder_is_ignored():
    model = tiny_model()
    enc = torch.randn(1, 4, 16)
    padded = torch.cat([enc, torch.randn(1, 3, 16)], 1)
    tokens, lang = torch.tensor([[0, 5]]), model.lang_index(["de"])
    with torch.no_grad():
        a = model(tokens, lang, enc, torch.ones(1, 4, dtype=torch.long))
        b = model(tokens, lang, padded, torch.tensor([[1, 1, 1, 1, 0, 0, 0]]))
    torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)


def test_sampling_is_seeded_shaped_and_within_vocab():
    model = tiny_model()
    enc, mask = torch.randn(2, 5, 16), torch.ones(2, 5, dtype=torch.long)
    run = lambda seed: model.sample(enc, mask, ["de", "ja"], 3, torch.rand((2, 2, 3, 8), generator=torch.Generator().manual_seed(seed)),
                                    top_k=3, max_new_tokens=8)
    a = run(1)
    assert len(a) == 2 and all(len(per_lang) == 2 and all(len(s) == 3 for s in per_lang) for per_lang in a)
    allowed = set(model.vocab.tolist()) - {0, 2}
    assert all(set(seq) <= allowed and len(seq) <= 8 for p in a for per_lang in p for seq in per_lang)
    assert run(1) == a and run(2) != a


def test_languages_change_the_output_distribution():
    model = tiny_model()
    with torch.no_grad():
        model.lang.weight.normal_(std=3.0)
    enc, mask = torch.randn(1, 5, 16), torch.ones(1, 5, dtype=torch.long)
    tokens = torch.tensor([[0]])
    de = model(tokens, model.lang_index(["de"]), enc, mask)
    ja = model(tokens, model.lang_index(["ja"]), enc, mask)
    assert not torch.allclose(de, ja)


def test_script_masks_keep_each_language_in_its_script():
    pieces = ["\u2581Wann", "\u2581ما", "\u2581Как", "年", "\u2581कब", "?", "\u25812019", "\u2581được", "\u2581¿"]
    mask = script_masks(pieces, ("de", "ar", "ru", "zh", "hi", "vi"))
    assert script_masks(pieces, ("es",))[0].tolist() == [True, False, False, False, False, True, True, True, True]
    allowed = {lang: [p for p, ok in zip(pieces, row) if ok] for lang, row in zip(("de", "ar", "ru", "zh", "hi", "vi"), mask.tolist())}
    assert allowed["de"] == ["\u2581Wann", "?", "\u25812019", "\u2581được"]
    assert allowed["ar"] == ["\u2581ما", "?", "\u25812019"]
    assert allowed["ru"] == ["\u2581Как", "?", "\u25812019"]
    assert allowed["zh"] == ["年", "?", "\u25812019"]
    assert allowed["hi"] == ["\u2581कब", "?", "\u25812019"]


def test_sampling_respects_allowed_pieces():
    model = tiny_model()
    enc, mask = torch.randn(1, 5, 16), torch.ones(1, 5, dtype=torch.long)
    allowed = torch.zeros(1, 2, len(model.vocab), dtype=torch.bool)  # [passages, langs, vocab]
    allowed[..., 1] = True  # </s> (vocab position 1 holds id 2)
    allowed[0, 0, 3] = True  # "de" may only produce piece id 5
    allowed[0, 1, 5] = True  # "ja" may only produce piece id 9
    out = model.sample(enc, mask, ["de", "ja"], 4, torch.rand((1, 2, 4, 32)), top_k=5, allowed=allowed)
    assert all(set(seq) <= {5} and seq for seq in out[0][0]) and all(set(seq) <= {9} and seq for seq in out[0][1])


def test_grouped_cross_attention_equals_repeated_keys():
    """Sampling shares a passage's encoder keys/values across its rows; same result as copies."""
    model = tiny_model()
    layer = model.layers[0]
    enc, enc_mask = torch.randn(2, 5, 16), torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]])
    x = torch.randn(6, 1, 16)  # 3 rows per passage, passage-major
    (k, v), = [layer.cross_kv(enc)]
    mask = model.cross_mask(enc_mask)
    with torch.no_grad():
        grouped = layer(x, k, v, mask, cache=[])
        copied = layer(x, k.repeat_interleave(3, 0), v.repeat_interleave(3, 0), mask.repeat_interleave(3, 0), cache=[])
    torch.testing.assert_close(grouped, copied, atol=1e-5, rtol=1e-4)
