from __future__ import annotations

import torch

from xqg_core.models.qg_decoding import DecodingRules, sample_queries, script_masks
from xqg_core.models.qg_model import QGConfig, QueryGenerator, copy_mask


def tiny_model(seed: int = 0, copy: bool = False) -> QueryGenerator:
    torch.manual_seed(seed)
    cfg = QGConfig(hidden=16, heads=2, ffn=32, layers=2, max_target_len=8, langs=("de", "ja"), copy=copy, dropout=0.1)
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


def test_packed_sources_give_the_padded_log_probs_and_gradients():
    """``pack_sources`` projects only each passage's own pieces into the cross-attention and copy
    keys: on passages of different lengths, with the copy mechanism, the log-probabilities and
    every gradient are those of projecting the padded batch."""
    plain, packed = tiny_model(copy=True).train(), tiny_model(copy=True).train()
    packed.cfg.pack_sources = True
    enc = torch.randn(3, 7, 16)
    mask = torch.tensor([[1] * 7, [1, 1, 1, 0, 0, 0, 0], [1, 1, 1, 1, 1, 0, 0]])
    src = torch.randint(4, 20, (3, 7)) * mask + (1 - mask)  # pad id 1 where padded
    targets = torch.tensor([[5, 9, 2], [src[1, 2].item(), 7, 2], [11, src[2, 4].item(), 2]])
    labels = torch.tensor([[3, 5, 1], [4, 4, 1], [6, 4, 1]])
    batch = dict(dec_in=torch.tensor([[0, 5, 9], [0, 7, 7], [0, 11, 9]]), langs=torch.tensor([0, 1, 0]), enc=enc,
                 enc_mask=mask, labels=labels, targets=targets, src_ids=src, copy_mask=copy_mask(src, 1) & mask.bool())
    logps = []
    for model in (plain, packed):
        torch.manual_seed(5)  # the same dropout masks
        logp = model.target_log_probs(**batch)
        (-logp.sum()).backward()
        logps.append(logp)
    torch.testing.assert_close(logps[0], logps[1], atol=1e-5, rtol=1e-5)
    assert logps[0].isfinite().all()
    for (name, a), (_, b) in zip(plain.named_parameters(), packed.named_parameters()):
        if a.requires_grad:
            torch.testing.assert_close(a.grad, b.grad, atol=1e-5, rtol=1e-4, msg=name)
    assert plain.layers[0].cross_attn.k.weight.grad.abs().sum() > 0


def test_sampling_is_seeded_shaped_and_within_vocab():
    model = tiny_model()
    enc, mask = torch.randn(2, 5, 16), torch.ones(2, 5, dtype=torch.long)
    run = lambda seed: sample_queries(model, enc, mask, ["de", "ja"], 3, torch.rand((2, 2, 3, 8), generator=torch.Generator().manual_seed(seed)),
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
    out = sample_queries(model, enc, mask, ["de", "ja"], 4, torch.rand((1, 2, 4, 32)), top_k=5, allowed=allowed)
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


def test_copy_probability_is_the_mixture_of_generating_and_copying():
    """log P(w) = log(g P_vocab(w) + (1 - g) sum_{i: src_i = w} a_i), checked by hand."""
    model = tiny_model(copy=True)
    enc, enc_mask = torch.randn(1, 5, 16), torch.ones(1, 5, dtype=torch.long)
    src = torch.tensor([[0, 5, 17, 5, 2]])  # piece 17 is outside vocab: only copying can produce it
    cmask = copy_mask(src, prefix_len=0)
    dec_in, langs = torch.tensor([[0, 5, 17]]), model.lang_index(["de"])
    targets = torch.tensor([[5, 17, 2]])
    labels = torch.tensor([[3, 2, 1]])  # vocab positions; 17 is not in vocab: scored as <unk> (id 3) by P_vocab
    with torch.no_grad():
        got = model.target_log_probs(dec_in, langs, enc, enc_mask, labels, targets, src, cmask)[0]
        h = model.decode(dec_in, langs, enc, enc_mask)
        p_vocab = model.logits(h).softmax(-1)[0]
        attn, log_gen, _ = model.copier(h, model.copier.k(enc), enc, cmask)
        g = log_gen.exp()[0]
    a = attn[0]
    want = [g[0] * p_vocab[0, 3] + (1 - g[0]) * (a[0, 1] + a[0, 3]),  # 5 sits at positions 1 and 3
            g[1] * p_vocab[1, 2] + (1 - g[1]) * a[1, 2],
            g[2] * p_vocab[2, 1]]  # </s> is never copied
    torch.testing.assert_close(got, torch.log(torch.stack(want)), atol=1e-5, rtol=1e-4)
    assert torch.all(a[:, [0, 4]] == 0)  # <s> and </s> are not copyable


def test_copy_mask_skips_the_prefix_and_specials():
    src = torch.tensor([[0, 40, 41, 50, 51, 1, 2], [0, 40, 41, 52, 2, 1, 1]])
    assert copy_mask(src, prefix_len=2).tolist() == [[False, False, False, True, True, False, False],
                                                      [False, False, False, True, False, False, False]]


def test_sampling_can_copy_a_piece_outside_the_vocabulary():
    model = tiny_model(copy=True)
    with torch.no_grad():  # copy only
        model.copier.gate.bias.fill_(-30.0)
    enc, mask = torch.randn(1, 4, 16), torch.ones(1, 4, dtype=torch.long)
    src = torch.tensor([[0, 17, 19, 2]])
    allowed = torch.zeros(1, 2, len(model.vocab), dtype=torch.bool)
    allowed[..., 1] = True  # </s> only from the vocabulary
    out = sample_queries(model, enc, mask, ["de", "ja"], 3, torch.rand((1, 2, 3, 8)), top_k=5, max_new_tokens=6,
                       allowed=allowed, src_ids=src, copy_mask=copy_mask(src, 0))
    pieces = {t for per_lang in out[0] for seq in per_lang for t in seq}
    assert pieces and pieces <= {17, 19}


def test_copy_slots_pool_repeated_pieces():
    model = tiny_model(copy=True)
    src = torch.tensor([[0, 17, 5, 17, 2]])
    slots = model.copy_slots(src)[0].tolist()
    V = len(model.vocab)
    assert slots[2] == 3 and slots[1] == slots[3] == V + 1  # 5 -> its vocab position; both 17s -> one slot


def test_dropout_is_off_at_inference():
    model = tiny_model(copy=True)
    enc, mask = torch.randn(1, 5, 16), torch.ones(1, 5, dtype=torch.long)
    tokens, lang = torch.tensor([[0, 5]]), model.lang_index(["de"])
    with torch.no_grad():
        torch.testing.assert_close(model(tokens, lang, enc, mask), model(tokens, lang, enc, mask))
        model.train()
        assert not torch.allclose(model(tokens, lang, enc, mask), model(tokens, lang, enc, mask))


def bigrams(seq: list[int]) -> list[tuple[int, int]]:
    return list(zip(seq, seq[1:]))


def test_whole_word_copying_never_starts_inside_a_word():
    """Copy only: a piece inside a word (15 after 14, 17 after 16) appears only right after its predecessor."""
    model = tiny_model(copy=True)
    with torch.no_grad():
        model.copier.gate.bias.fill_(-30.0)
    src = torch.tensor([[0, 14, 15, 16, 17, 2]])
    word_start = torch.tensor([[False, True, False, True, False, False]])
    allowed = torch.zeros(1, 2, len(model.vocab), dtype=torch.bool)
    allowed[..., 1] = True
    for seed in range(5):
        out = sample_queries(model, torch.randn(1, 6, 16), torch.ones(1, 6, dtype=torch.long), ["de", "ja"], 6,
                           torch.rand((1, 2, 6, 8), generator=torch.Generator().manual_seed(seed)), top_k=5,
                           max_new_tokens=8, allowed=allowed, src_ids=src, copy_mask=copy_mask(src, 0),
                           word_start=word_start, rules=DecodingRules(whole_words=True))
        for seq in (s for per_lang in out[0] for s in per_lang):
            for i, piece in enumerate(seq):
                if piece in (15, 17):
                    assert i > 0 and seq[i - 1] == piece - 1, seq


def test_no_bigram_repeats_from_the_vocabulary_or_by_copying():
    model = tiny_model(copy=True)
    src = torch.tensor([[0, 17, 19, 5, 2]])
    allowed = torch.zeros(1, 2, len(model.vocab), dtype=torch.bool)
    allowed[..., [1, 2, 3]] = True  # </s>, 3, 5: few pieces, so repeats are likely without the rule
    is_eos = model.vocab == model.cfg.eos_id
    with torch.no_grad():
        model.out_bias[is_eos] = -30.0  # long queries
    def run(rules):
        out = sample_queries(model, torch.randn(1, 5, 16), torch.ones(1, 5, dtype=torch.long), ["de", "ja"], 8,
                           torch.rand((1, 2, 8, 8), generator=torch.Generator().manual_seed(3)), top_k=5,
                           max_new_tokens=8, allowed=allowed, src_ids=src, copy_mask=copy_mask(src, 0),
                           rules=rules)
        return [s for per_lang in out[0] for s in per_lang]
    assert any(len(set(bigrams(s))) < len(bigrams(s)) for s in run(DecodingRules()))
    for seq in run(DecodingRules(no_repeat_bigrams=True)):
        assert len(set(bigrams(seq))) == len(bigrams(seq)), seq


def test_copy_bias_lowers_the_gate_logit():
    """g = sigmoid(logit - b): b shifts the generate-vs-copy gate of one language only."""
    model = tiny_model(copy=True)
    h, enc = torch.randn(1, 2, 16), torch.randn(1, 4, 16)
    cmask = torch.ones(1, 4, dtype=torch.bool)
    with torch.no_grad():
        _, plain, _ = model.copier(h, model.copier.k(enc), enc, cmask)
        _, shifted, log_copy = model.copier(h, model.copier.k(enc), enc, cmask, torch.tensor([[2.0, 0.0]]))
    logit = torch.logit(plain.exp())
    torch.testing.assert_close(shifted.exp(), torch.sigmoid(logit - torch.tensor([[2.0, 0.0]])), atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(shifted.exp() + log_copy.exp(), torch.ones(1, 2))
    rules = DecodingRules.from_dict({"copy_bias": {"ja": 1.5}, "whole_words": True})
    assert rules.bias_for("ja") == 1.5 and rules.bias_for("de") == 0.0
    assert DecodingRules.from_dict(rules.to_dict()) == rules


def test_a_word_begun_from_the_passage_is_finished_from_it():
    """14 is always followed by 15 inside one word in the passage: once 14 is out, 15 comes next."""
    model = tiny_model(copy=True)
    src = torch.tensor([[0, 14, 15, 16, 2]])
    word_start = torch.tensor([[False, True, False, True, False]])
    allowed = torch.ones(1, 2, len(model.vocab), dtype=torch.bool)
    def run(rules):
        out = sample_queries(model, torch.randn(1, 5, 16, generator=torch.Generator().manual_seed(1)),
                           torch.ones(1, 5, dtype=torch.long), ["de", "ja"], 16,
                           torch.rand((1, 2, 16, 8), generator=torch.Generator().manual_seed(2)), top_k=8,
                           max_new_tokens=8, allowed=allowed, src_ids=src, copy_mask=copy_mask(src, 0),
                           word_start=word_start, rules=rules)
        return [s for per_lang in out[0] for s in per_lang]
    cut = lambda seqs: [s for s in seqs if any(p == 14 and i + 1 < len(s) and s[i + 1] != 15 for i, p in enumerate(s))]
    assert cut(run(DecodingRules()))  # without the rule a copied 14 is often not continued by 15
    finished = run(DecodingRules(whole_words=True))
    assert any(14 in s for s in finished) and not cut(finished)


def test_a_passage_word_is_copied_once():
    model = tiny_model(copy=True)
    with torch.no_grad():
        model.copier.gate.bias.fill_(-30.0)  # copy only
    src = torch.tensor([[0, 14, 16, 18, 2]])
    word_start = torch.tensor([[False, True, True, True, False]])
    allowed = torch.zeros(1, 2, len(model.vocab), dtype=torch.bool)
    allowed[..., 1] = True
    def run(rules):
        out = sample_queries(model, torch.randn(1, 5, 16), torch.ones(1, 5, dtype=torch.long), ["de", "ja"], 8,
                           torch.rand((1, 2, 8, 8), generator=torch.Generator().manual_seed(0)), top_k=5,
                           max_new_tokens=8, allowed=allowed, src_ids=src, copy_mask=copy_mask(src, 0),
                           word_start=word_start, rules=rules)
        return [s for per_lang in out[0] for s in per_lang]
    assert any(len(set(s)) < len(s) for s in run(DecodingRules()))
    assert all(len(set(s)) == len(s) for s in run(DecodingRules(copy_words_once=True)))


def test_finished_rows_leave_the_batch_without_changing_the_others():
    """Rows that have written </s> are dropped from the batch mid-sampling; every passage's
    queries equal those sampled for that passage alone (copying and every rule on)."""
    model = tiny_model(seed=3, copy=True)
    with torch.no_grad():  # queries of very different lengths, so rows finish at different steps
        model.out_bias[model.vocab == model.cfg.eos_id] = 1.0
    gen = torch.Generator().manual_seed(7)
    enc, mask = torch.randn(3, 6, 16, generator=gen), torch.tensor([[1] * 6, [1] * 4 + [0] * 2, [1] * 5 + [0]])
    src = torch.tensor([[0, 14, 15, 16, 17, 2], [0, 17, 5, 2, 1, 1], [0, 19, 18, 14, 2, 1]])
    word_start = torch.tensor([[False, True, False, True, False, False]] * 3)
    uniforms = torch.rand((3, 2, 4, 8), generator=gen)
    rules = DecodingRules(whole_words=True, no_repeat_bigrams=True, copy_words_once=True)
    def run(rows):
        return sample_queries(model, enc[rows], mask[rows], ["de", "ja"], 4, uniforms[rows], top_k=4, max_new_tokens=8,
                            src_ids=src[rows], copy_mask=copy_mask(src[rows], 0), word_start=word_start[rows],
                            rules=rules)
    together = run([0, 1, 2])
    lengths = {len(seq) for per_passage in together for per_lang in per_passage for seq in per_lang}
    assert len(lengths) >= 3  # rows did finish at different steps
    assert together == [run([b])[0] for b in range(3)]


def test_each_language_scores_only_its_allowed_columns_without_changing_the_queries():
    """A step scores, per language, only the pieces some row of that language may take (the
    union over the call's passages): the queries equal those sampled per passage and per
    language alone, where those unions differ."""
    model = tiny_model(seed=5, copy=True)
    gen = torch.Generator().manual_seed(11)
    enc, mask = torch.randn(3, 6, 16, generator=gen), torch.ones(3, 6, dtype=torch.long)
    src = torch.tensor([[0, 14, 5, 16, 17, 2], [0, 17, 9, 2, 1, 1], [0, 19, 18, 7, 2, 1]])
    allowed = torch.rand((3, 2, len(model.vocab)), generator=gen) < 0.5
    allowed[..., 1] = True  # </s>
    uniforms = torch.rand((3, 2, 3, 8), generator=gen)
    rules = DecodingRules(no_repeat_bigrams=True, copy_words_once=True)
    word_start = torch.ones(3, 6, dtype=torch.bool)

    def run(rows, langs):
        li = [["de", "ja"].index(lang) for lang in langs]
        return sample_queries(model, enc[rows], mask[rows], langs, 3, uniforms[rows][:, li], top_k=3, max_new_tokens=8,
                            allowed=allowed[rows][:, li], src_ids=src[rows], copy_mask=copy_mask(src[rows], 0),
                            word_start=word_start[rows], rules=rules)
    together = run([0, 1, 2], ["de", "ja"])
    assert together == [run([b], ["de", "ja"])[0] for b in range(3)]
    assert [[per_passage[0] for per_passage in together], [per_passage[1] for per_passage in together]] == \
        [[p[0] for p in run([0, 1, 2], [lang])] for lang in ("de", "ja")]
    vocab = model.vocab.tolist()
    for b, per_passage in enumerate(together):
        for li, queries in enumerate(per_passage):
            ok = {vocab[i] for i in allowed[b, li].nonzero().squeeze(1).tolist()} | set(src[b].tolist())
            assert all(set(q) <= ok for q in queries)
