"""Decoding the query generator: scripts a language may write in, decoding rules, and top-k sampling
with a key/value cache (the cross-attention keys and values computed once per passage).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch

from xqg_core.models.qg_model import QueryGenerator, scatter_rows

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


@dataclass
class OutputColumns:
    """Each row language's output columns in one sampling call: the ``vocab`` positions that any
    of its rows may generate or receive by copying. The other pieces stay banned, so a step
    scores C columns per row, not the whole vocabulary (a language allows ~6-26% of it).
    Pads repeat a column and are banned."""

    group: torch.Tensor  # [rows]: the row's language, 0 .. G-1
    cols: torch.Tensor  # [G, C] vocab positions
    pad: torch.Tensor  # [G, C] bool
    weight: torch.Tensor  # [G, C, H] output embeddings of the columns
    bias: torch.Tensor  # [G, C]
    eos: torch.Tensor  # [G, C] bool: the column is </s>
    col_of: torch.Tensor  # [G, V] vocab position -> column (-1: none)
    piece_col: torch.Tensor | None  # [G, max piece id + 1] piece id -> column (C: none); for the bigram ban

    @property
    def width(self) -> int:
        return self.cols.shape[1]


def output_columns(model: QueryGenerator, lang_idx: torch.Tensor, banned: torch.Tensor, slots: torch.Tensor | None,
                   src_ids: torch.Tensor | None, top_k: int, rules: DecodingRules) -> OutputColumns:
    """The columns of every row language (:class:`OutputColumns`); ``slots`` ([rows, S], None
    without copying) are the copy slots of :meth:`QueryGenerator.copy_slots`."""
    device, V = lang_idx.device, len(model.vocab)
    is_eos = model.vocab == model.cfg.eos_id
    needed = torch.zeros((len(lang_idx), V + 1), dtype=torch.bool, device=device)
    if slots is not None:
        needed.scatter_(1, torch.where(slots < V, slots, V), True)
    needed = needed[:, :V] | ~banned | is_eos
    group = lang_idx.unique(return_inverse=True)[1]
    per_group = [needed[group == g].any(0).nonzero().squeeze(1) for g in range(int(group.max()) + 1)]
    C = max(top_k, *(len(c) for c in per_group))  # at least top_k columns for the draw
    cols = torch.stack([torch.cat([c, c[:1].expand(C - len(c))]) for c in per_group])
    pad = torch.stack([torch.arange(C, device=device) >= len(c) for c in per_group])
    col_of = torch.full((len(per_group), V), -1, dtype=torch.long, device=device)
    for g, c in enumerate(per_group):
        col_of[g, c] = torch.arange(len(c), device=device)
    piece_col = None
    if rules.no_repeat_bigrams:
        top_id = max(int(model.vocab.max()), int(src_ids.max()) if slots is not None else 0)
        piece_col = torch.full((len(per_group), top_id + 1), C, dtype=torch.long, device=device)
        for g, c in enumerate(per_group):
            piece_col[g, model.vocab[c]] = torch.arange(len(c), device=device)
    weight = model.word.weight[model.vocab][cols]
    return OutputColumns(group, cols, pad, weight, model.out_bias[cols], is_eos[cols] & ~pad, col_of, piece_col)


@torch.inference_mode()
def sample_queries(model: QueryGenerator, enc: torch.Tensor, enc_mask: torch.Tensor, langs: list[str], n: int,
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
    and values are computed once per passage and broadcast over its rows. A row that has
    written ``</s>`` leaves the per-row state and the self-attention caches, so later steps
    cost only the rows still sampling.
    """
    B, reps = enc.shape[0], len(langs) * n
    rows = B * reps
    max_new_tokens = min(max_new_tokens, model.cfg.max_target_len)  # the positions it was trained on
    per_layer = model.cross_states(enc)  # [B, heads, S, dim]: shared by the passage's rows
    mask = model.cross_mask(enc_mask)
    lang_idx = model.lang_index([lang for lang in langs for _ in range(n)]).repeat(B)
    banned = (model.vocab == model.cfg.bos_id)[None].expand(len(lang_idx), -1)
    if allowed is not None:
        banned = banned | ~allowed.to(enc.device).repeat_interleave(n, dim=1).reshape(len(lang_idx), -1)
    copying = model.copier is not None and src_ids is not None
    slots = model.copy_slots(src_ids).repeat_interleave(reps, 0) if copying else None  # [rows, S]
    columns = output_columns(model, lang_idx, banned, slots, src_ids, top_k, rules)
    state = {"row": torch.arange(rows, device=enc.device), "lang": lang_idx,
             "u": uniforms.to(enc.device).reshape(rows, -1), "group": columns.group,
             "banned": banned.gather(1, columns.cols[columns.group]) | columns.pad[columns.group]}
    copier = None
    if copying:
        copier = CopyState.build(model, enc, src_ids, copy_mask, word_start, lang_idx, reps, rules, slots, columns,
                                 state)
    tokens = torch.full((rows, 1), model.cfg.bos_id, dtype=torch.long, device=enc.device)
    caches: list[list] = [[] for _ in model.layers]
    out = torch.full((rows, max_new_tokens), -1, dtype=torch.long, device=enc.device)
    for step in range(max_new_tokens):
        active = state["row"]
        x = model.embed(tokens, step, state["lang"])
        for layer, cache, (ck, cv) in zip(model.layers, caches, per_layer):
            x = layer(x, ck, cv, mask, cache, rows=(active, rows))
        written, prev = out[active, :step], tokens[:, -1]
        now_banned, repeats = banned_now(state, step, written, prev, columns, rules)
        probs = generation_probs(model.head(x[:, 0]), state["group"], columns, now_banned)
        if copier is not None:
            probs = copier.mix(probs, x[:, 0], state, step, written, prev, repeats, rows)
        piece = draw(probs, state, step, top_k, columns, model.vocab)
        out[active, step] = piece
        going = piece != model.cfg.eos_id
        if not bool(going.any()):
            break
        tokens = piece[:, None]
        if not bool(going.all()):
            state = {name: value[going] for name, value in state.items()}
            tokens = tokens[going]
            for cache in caches:
                cache[:] = [cache[0][going], cache[1][going]]
    seqs = [[t for t in row if t >= 0 and t != model.cfg.eos_id] for row in out.tolist()]
    return [[seqs[(b * len(langs) + li) * n:(b * len(langs) + li + 1) * n] for li in range(len(langs))]
            for b in range(B)]


def banned_now(state: dict, step: int, written: torch.Tensor, prev: torch.Tensor, columns: OutputColumns,
               rules: DecodingRules) -> tuple[torch.Tensor, torch.Tensor | None]:
    """[active, C]: the columns banned at this step (``</s>`` at the first; with the bigram ban,
    a piece w when (prev, w) is already in the query), and the pieces that followed ``prev``
    earlier in each row (``repeats``, -1 elsewhere; None before the ban applies)."""
    now_banned = state["banned"] | columns.eos[state["group"]] if step == 0 else state["banned"]
    if not (rules.no_repeat_bigrams and step >= 2):
        return now_banned, None
    C = columns.width
    repeats = torch.where(written[:, :-1] == prev[:, None], written[:, 1:], -1)  # [active, step - 1]
    column = torch.where(repeats >= 0, columns.piece_col[state["group"][:, None], repeats.clamp(min=0)], C)
    hit = torch.zeros((len(written), C + 1), dtype=torch.bool, device=written.device)
    hit.scatter_(1, column, True)
    return now_banned | hit[:, :C], repeats


def generation_probs(h: torch.Tensor, group: torch.Tensor, columns: OutputColumns, now_banned: torch.Tensor) -> torch.Tensor:
    """[active, C]: the generation distribution of each row over its language's columns."""
    logits = h.new_empty((len(h), columns.width))
    for g in range(len(columns.cols)):  # each language's rows against its own columns
        sel = (group == g).nonzero().squeeze(1)
        if len(sel):
            logits[sel] = h[sel] @ columns.weight[g].T + columns.bias[g]
    logits = logits.masked_fill(now_banned, float("-inf"))
    return torch.nan_to_num(logits.softmax(-1))  # a row with every piece banned: all mass from copying


def draw(probs: torch.Tensor, state: dict, step: int, top_k: int, columns: OutputColumns,
         vocab: torch.Tensor) -> torch.Tensor:
    """The piece each row samples: top-k by inverse CDF of the row's uniform at ``step``;
    a column past C is a copy slot, whose piece is the passage's."""
    C = columns.width
    top_val, top_idx = probs.topk(top_k, dim=-1)
    cdf = (top_val / top_val.sum(-1, keepdim=True)).cumsum(-1)
    choice = (cdf < state["u"][:, step : step + 1]).sum(-1, keepdim=True).clamp(max=top_k - 1)
    slot = top_idx.gather(1, choice).squeeze(1)
    piece = vocab[columns.cols[state["group"], slot.clamp(max=C - 1)]]
    if "src" in state:
        copied = state["src"].gather(1, (slot - C).clamp(min=0)[:, None]).squeeze(1)
        piece = torch.where(slot >= C, copied, piece)
    return piece


@dataclass
class CopyState:
    """What the copy mechanism needs across steps; the per-row parts (``slots``, ``src``,
    ``copyable``, ``starts``) live in the sampling state so that finished rows leave them."""

    copier: torch.nn.Module
    keys: torch.Tensor
    enc: torch.Tensor
    bias: torch.Tensor  # [B, reps]: the copy gate's bias per row (DecodingRules.copy_bias)
    B: int
    reps: int
    rules: DecodingRules

    @classmethod
    def build(cls, model: QueryGenerator, enc, src_ids, copy_mask, word_start, lang_idx, reps: int,
              rules: DecodingRules, slots: torch.Tensor, columns: OutputColumns, state: dict) -> "CopyState":
        B, C, V = enc.shape[0], columns.width, len(model.vocab)
        bias = torch.tensor([rules.bias_for(model.cfg.langs[i]) for i in lang_idx.tolist()],
                            device=enc.device).reshape(B, reps)
        # a copy slot in the vocabulary lands on its piece's column, the others after the C columns
        group = columns.group
        slot_cols = torch.where(slots < V, columns.col_of[group[:, None], slots.clamp(max=V - 1)], C + slots - V)
        state.update(slots=slot_cols, src=src_ids.repeat_interleave(reps, 0),
                     copyable=copy_mask.repeat_interleave(reps, 0))
        if rules.whole_words or rules.copy_words_once:
            state["starts"] = word_start.to(enc.device).repeat_interleave(reps, 0)
        return cls(model.copier, model.copier.k(enc), enc, bias, B, reps, rules)

    def allowed_copies(self, state: dict, step: int, written: torch.Tensor, prev: torch.Tensor,
                       repeats: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """[active, S]: the source positions each row may copy now, and (``whole_words``) the
        rows forced to continue a word begun with the passage's pieces."""
        src, may_copy, rules = state["src"], state["copyable"], self.rules
        if repeats is not None:
            may_copy = may_copy & ~(src[:, None, :] == repeats[:, :, None]).any(1)
        if rules.copy_words_once and step >= 1:
            used = (src[:, :, None] == written[:, None, :]).any(-1)  # [active, S]
            may_copy = may_copy & ~(used & state["starts"])
        if not rules.whole_words:
            return may_copy, None
        # inside a word only right after the piece before it; and a word begun with the
        # passage's pieces is finished with them: where every occurrence of the previous piece
        # is followed by a piece inside the same word, only those may come
        after_prev = torch.zeros_like(may_copy)
        after_prev[:, 1:] = src[:, :-1] == prev[:, None]
        inside = state["copyable"] & ~state["starts"]
        follows = after_prev & inside & may_copy
        forced = follows.any(1) & ~(after_prev & ~inside).any(1)
        return torch.where(forced[:, None], follows, may_copy & (state["starts"] | after_prev)), forced

    def mix(self, probs: torch.Tensor, h: torch.Tensor, state: dict, step: int, written: torch.Tensor,
            prev: torch.Tensor, repeats: torch.Tensor | None, rows: int) -> torch.Tensor:
        """[active, C + S]: ``g * P_vocab`` on the columns plus ``(1 - g) * attention`` on the copy slots."""
        active = state["row"]
        may_copy, forced = self.allowed_copies(state, step, written, prev, repeats)
        attn, log_gen, log_copy = self.copier(scatter_rows(h, active, rows).reshape(self.B, self.reps, -1), self.keys,
                                              self.enc, scatter_rows(may_copy, active, rows).reshape(self.B, self.reps, -1),
                                              self.bias)
        attn, log_gen, log_copy = attn.reshape(rows, -1)[active], log_gen.reshape(rows)[active], log_copy.reshape(rows)[active]
        if forced is not None:  # a forced continuation is copied, never generated
            log_gen = log_gen.masked_fill(forced, float("-inf"))
            log_copy = log_copy.masked_fill(forced, 0.0)
        probs = torch.cat([probs * log_gen[:, None].exp(), probs.new_zeros((len(active), state["slots"].shape[1]))], 1)
        probs.scatter_add_(1, state["slots"], attn * log_copy[:, None].exp())
        return probs
