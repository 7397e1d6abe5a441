"""The generator's training config, its real (passage, question) pairs and their batches.

Real pairs only, with the target language given to the decoder:
- MLQA dev: English context -> question in ar/de/en/es/hi/vi/zh; a fixed fraction of
  the contexts (grouped by context, chosen by a hash of its text) is held out for the
  quality report and never trained on;
- TyDi GoldP dev: passage -> question in the same language (target languages only);
- TyDi GoldP train (en, ko, sw; target languages only): the same, for English question
  generation, a task where the question names what the passage is about;
- XOR-TyDi question translations: English question -> the question in ar/ru.
XQuAD and PAWS-X are evaluation sets and are never read here. The model may train on
more languages than the study generates (``en``): what it learns about reading the
passage is shared through the decoder.
"""
from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from xqg_core.config import load_yaml_config
from xqg_core.data.loaders import load_squad, load_xor_translations
from xqg_core.data.qg_sources import load_qg_source, normalise_space
from xqg_core.io import atomic_path, write_json_atomic
from xqg_core.models.qg_decoding import DecodingRules
from xqg_core.paths import cache_dir, resolve_data_dir

log = logging.getLogger("xqg_core.models.train_generator")


MLQA_LANGS = ("ar", "de", "en", "es", "hi", "vi", "zh")


TYDI_DEV_LANGS = ("ar", "bn", "en", "fi", "id", "ko", "ru", "sw", "te")


TYDI_TRAIN_LANGS = ("en", "ko", "sw")


XOR_TRANSLATION_LANGS = ("ar", "bn", "fi", "ja", "ko", "ru", "te")


@dataclass
class GeneratorTrainConfig:
    output_dir: str = "me5-qg"  # relative paths live in the cache dir
    langs: tuple[str, ...] = ("ar", "de", "es", "hi", "ru", "vi", "zh")
    layers: int = 4
    steps: int = 2500
    batch_size: int = 32
    lr: float = 3e-4
    warmup_steps: int = 100
    weight_decay: float = 0.01
    heldout_percent: int = 10
    lang_temperature: float = 0.3  # language sampling p(lang) ~ N_lang ** T: low-resource languages get more turns
    mlqa_weight: float = 4.0  # within a language: MLQA pairs (passage -> foreign question) drawn this much more
    use_tydi: bool = True
    use_xor_translations: bool = True
    use_tydi_train: bool = False
    dropout: float = 0.0
    copy: bool = False  # the pointer mechanism (qg_model.CopyAttention)
    eval_every: int = 0  # held-out loss every this many steps (0: never; the last weights are kept)
    patience: int = 0  # stop after this many evaluations without a better held-out loss (0: never)
    seed: int = 13
    checkpoint_every: int = 100
    max_source_len: int = 256
    max_target_len: int = 32
    encode_batch_size: int = 16
    max_train_pairs: int | None = None  # a deterministic subsample, for quick checks
    data_dir: str | None = None
    # more real pairs (xqg_core.data.qg_sources): source names, where they live (default:
    # {data_dir}/qg if it exists, else {cache}/qg-data) and what of SQuAD dev XQuAD excludes
    qg_sources: tuple[str, ...] = ()
    qg_data_dir: str | None = None
    squad_exclusion: str = "paragraph"  # or "article": every paragraph of an article XQuAD drew from
    # speed (train_generator.train): project only the passages' own pieces (QGConfig.pack_sources)
    # and run the forward pass in bfloat16 autocast; both change float rounding, so the configs of
    # shipped weights leave them off and reproduce those weights
    pack_sources: bool = False
    bf16: bool = False
    # where the frozen encoder's states are cached (default: the run's directory); they are checked
    # to belong to the sources and max_source_len, so runs over the same pairs can share them
    encoder_states_dir: str | None = None
    # how the trained model samples (qg_model.DecodingRules; chosen by benchmarks/decoding_rules.py
    # on held-out data); not part of training, so a changed rule resumes a run
    decoding: DecodingRules = field(default_factory=DecodingRules)

    @classmethod
    def from_yaml(cls, path: str | Path) -> "GeneratorTrainConfig":
        return load_yaml_config(cls, path)

    def resolved_output(self) -> Path:
        return _in_cache(self.output_dir)

    def resolved_states_dir(self) -> Path:
        return _in_cache(self.encoder_states_dir) if self.encoder_states_dir else self.resolved_output()


def _in_cache(path: str) -> Path:
    """Relative paths live in the cache dir."""
    return Path(path) if Path(path).is_absolute() else cache_dir() / path


def clean_question(text: str) -> str:
    """Some MLQA questions end in a literal backslash-n (two characters): drop it."""
    return text.replace("\\n", " ").strip()


@dataclass(frozen=True)
class Pair:
    source: str  # encoder input, with its mE5 prefix
    lang: str
    target: str
    origin: str  # mlqa / tydi / xor-translation / a qg_sources name
    group: str  # the context, for the held-out split
    title: str = ""
    kind: str = ""  # a qg_sources kind (en-context: an English passage, as MLQA's)


@dataclass
class PairSet:
    train: list[Pair] = field(default_factory=list)
    heldout: list[Pair] = field(default_factory=list)


def is_heldout(context: str, percent: int) -> bool:
    """Deterministic by context text: the same contexts are held out on every machine."""
    return int(hashlib.sha1(context.encode("utf-8")).hexdigest(), 16) % 100 < percent


def build_pairs(cfg: GeneratorTrainConfig) -> PairSet:
    data_dir = resolve_data_dir(cfg.data_dir)
    pairs = PairSet()
    for lang in (lang for lang in MLQA_LANGS if lang in cfg.langs):
        for q in load_squad(data_dir / f"mlqa_dev/dev-context-en-question-{lang}.json", lang):
            pair = Pair(f"passage: {q.title} {q.context}", lang, clean_question(q.question), "mlqa", q.context, q.title)
            (pairs.heldout if is_heldout(q.context, cfg.heldout_percent) else pairs.train).append(pair)
    if cfg.use_tydi:
        for lang in (lang for lang in TYDI_DEV_LANGS if lang in cfg.langs):
            for q in load_squad(data_dir / f"tydiqa_goldp/dev/tydiqa.goldp.{lang}.dev.json", lang):
                pairs.train.append(Pair(f"passage: {q.title} {q.context}", lang, clean_question(q.question), "tydi", q.context))
    if cfg.use_tydi_train:
        for lang in (lang for lang in TYDI_TRAIN_LANGS if lang in cfg.langs):
            for q in load_squad(data_dir / f"tydiqa_goldp/train/tydiqa.goldp.{lang}.train.json", lang):
                pairs.train.append(Pair(f"passage: {q.title} {q.context}", lang, clean_question(q.question), "tydi", q.context))
    if cfg.use_xor_translations:
        for lang in (lang for lang in XOR_TRANSLATION_LANGS if lang in cfg.langs):
            for en, xx in load_xor_translations(data_dir, lang):
                pairs.train.append(Pair(f"query: {en}", lang, clean_question(xx), "xor-translation", en))
    pairs.train += source_pairs(cfg, data_dir, {normalise_space(p.group) for p in pairs.heldout})
    return pairs


def qg_data_dir(cfg: GeneratorTrainConfig, data_dir: Path) -> Path:
    if cfg.qg_data_dir:
        return Path(cfg.qg_data_dir)
    return data_dir / "qg" if (data_dir / "qg").is_dir() else cache_dir() / "qg-data"


def source_pairs(cfg: GeneratorTrainConfig, data_dir: Path, heldout_groups: set[str]) -> list[Pair]:
    """The pairs of ``cfg.qg_sources`` in the target languages, none of whose passages is a
    held-out MLQA context (XQuAD's are left out by the sources' reader)."""
    out = []
    for name in cfg.qg_sources:
        examples = load_qg_source(name, qg_data_dir(cfg, data_dir), data_dir / "xquad" / "xquad.en.json",
                                  cfg.squad_exclusion)
        for e in examples:
            if e.lang not in cfg.langs or normalise_space(e.group) in heldout_groups:
                continue
            if e.kind == "en-question":  # a question to write in another language, as XOR's translations
                source = f"query: {e.passage}"
            else:
                source = f"passage: {e.title} {e.passage}" if e.title else f"passage: {e.passage}"
            out.append(Pair(source, e.lang, clean_question(e.question), name, e.group, e.title, e.kind))
    return out


def encode_sources(sources: list[str], out: Path, cfg: GeneratorTrainConfig, me5) -> tuple[np.ndarray, np.ndarray]:
    """Frozen-encoder states of every source, concatenated: (states [tokens, H] fp16, offsets)."""
    import torch
    from safetensors.numpy import load_file, save_file

    path = out / "encoder_states.safetensors"
    # the states belong to these sources cut at this length (a changed cap re-encodes them)
    identity = {"sources_sha1": hashlib.sha1("\x00".join(sources).encode("utf-8")).hexdigest(),
                "sources": len(sources), "max_source_len": cfg.max_source_len}
    meta = out / "encoder_states.json"
    if path.is_file() and meta.is_file() and json.loads(meta.read_text()) == identity:
        saved = load_file(str(path))
        return saved["states"], saved["offsets"]
    from xqg_core.models.encoders import length_sorted_batches, pad_batch

    ids = me5.tokenize(sources, cfg.max_source_len)
    chunks: list[np.ndarray | None] = [None] * len(sources)
    t0 = time.time()
    with torch.inference_mode():
        for b, idx in enumerate(length_sorted_batches([len(x) for x in ids], cfg.encode_batch_size)):
            input_ids, mask = pad_batch([ids[i] for i in idx], me5.pad_id)
            hidden = me5.model(input_ids=input_ids.to(me5.device), attention_mask=mask.to(me5.device)).last_hidden_state
            hidden = hidden.float().cpu()
            for row, i in enumerate(idx):
                chunks[i] = hidden[row, : len(ids[i])].numpy().astype(np.float16)
            if b % 50 == 0:
                log.info("encoded %d/%d sources (%.0f s)", b * cfg.encode_batch_size, len(sources), time.time() - t0)
    offsets = np.zeros(len(sources) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([c.shape[0] for c in chunks])
    states = np.concatenate(chunks)
    with atomic_path(path) as tmp:
        save_file({"states": states, "offsets": offsets}, str(tmp))
    write_json_atomic(meta, identity)
    return states, offsets


def prepare_targets(cfg: GeneratorTrainConfig, me5) -> tuple[PairSet, list[list[int]], np.ndarray]:
    """Training pairs, their target piece ids (ending in ``</s>``) and the output vocabulary."""
    pairs = build_pairs(cfg)
    if cfg.max_train_pairs is not None and cfg.max_train_pairs < len(pairs.train):
        keep = np.sort(np.random.default_rng(cfg.seed).choice(len(pairs.train), cfg.max_train_pairs, replace=False))
        pairs.train = [pairs.train[i] for i in keep]
    targets = me5.tokenize([p.target for p in pairs.train], cfg.max_target_len + 1)
    targets = [t[1:-1][: cfg.max_target_len - 1] + [2] for t in targets]  # drop <s>, keep </s> (id 2)
    vocab = np.array(sorted({i for t in targets for i in t} | {2, 3}), dtype=np.int64)  # + </s>, <unk>
    return pairs, targets, vocab


def language_lexicon(pairs: list[Pair], targets: list[list[int]], vocab: np.ndarray,
                     langs: tuple[str, ...]) -> np.ndarray:
    """[len(langs), len(vocab)] bool: the pieces each language's training questions use."""
    position = {int(v): i for i, v in enumerate(vocab)}
    lexicon = np.zeros((len(langs), len(vocab)), dtype=bool)
    for pair, target in zip(pairs, targets):
        lexicon[langs.index(pair.lang), [position[t] for t in target]] = True
    return lexicon


def write_lexicon(out: Path, cfg: GeneratorTrainConfig, pairs: PairSet, targets: list[list[int]],
                  vocab: np.ndarray) -> None:
    from safetensors.numpy import save_file

    lexicon = language_lexicon(pairs.train, targets, vocab, tuple(cfg.langs)).astype(np.uint8)
    with atomic_path(out / "lexicon.safetensors") as tmp:
        save_file({"lexicon": lexicon}, str(tmp))


class Batcher:
    """Tensors for teacher forcing from pairs: encoder states, decoder input, labels, copy inputs."""

    def __init__(self, sources: list[str], states: np.ndarray, offsets: np.ndarray, source_ids: list[list[int]],
                 prefix_lens: dict[str, int], vocab: np.ndarray, langs: tuple[str, ...]):
        self.index = {s: i for i, s in enumerate(sources)}
        self.states, self.offsets, self.source_ids = states, offsets, source_ids
        self.prefix_lens = prefix_lens
        self.to_sub = {int(v): i for i, v in enumerate(vocab)}
        self.lang_ids = {lang: i for i, lang in enumerate(langs)}

    def __call__(self, pairs: list[Pair], targets: list[list[int]], source_of: list[str] | None = None) -> dict:
        """``source_of`` replaces each pair's passage (the shuffled-passage control)."""
        import torch

        from xqg_core.models.qg_model import copy_mask

        sources = source_of or [p.source for p in pairs]
        src = [self.index[s] for s in sources]
        width = max(int(self.offsets[s + 1] - self.offsets[s]) for s in src)
        enc = torch.zeros((len(pairs), width, self.states.shape[1]))
        enc_mask = torch.zeros((len(pairs), width), dtype=torch.long)
        src_ids = torch.ones((len(pairs), width), dtype=torch.long)  # pad id 1: never copied
        copyable = torch.zeros((len(pairs), width), dtype=torch.bool)
        for row, (s, text) in enumerate(zip(src, sources)):
            a, b = int(self.offsets[s]), int(self.offsets[s + 1])
            enc[row, : b - a] = torch.from_numpy(self.states[a:b].astype(np.float32))
            enc_mask[row, : b - a] = 1
            ids = torch.tensor(self.source_ids[s])[None]
            src_ids[row, : b - a] = ids[0]
            copyable[row, : b - a] = copy_mask(ids, self.prefix_lens[text.split(":", 1)[0]])[0]
        tlen = max(len(t) for t in targets)
        dec_in = torch.full((len(pairs), tlen), 1, dtype=torch.long)  # pad id; masked out of the loss
        labels = torch.full((len(pairs), tlen), -100, dtype=torch.long)
        target_ids = torch.full((len(pairs), tlen), -1, dtype=torch.long)
        unk = self.to_sub[3]  # a held-out piece the vocabulary lacks scores as <unk> (it may still be copied)
        for row, t in enumerate(targets):
            dec_in[row, : len(t)] = torch.tensor([0] + t[:-1])
            labels[row, : len(t)] = torch.tensor([self.to_sub.get(i, unk) for i in t])
            target_ids[row, : len(t)] = torch.tensor(t)
        return {"dec_in": dec_in, "langs": torch.tensor([self.lang_ids[p.lang] for p in pairs]), "enc": enc,
                "enc_mask": enc_mask, "labels": labels, "targets": target_ids, "src_ids": src_ids,
                "copy_mask": copyable}


def make_batcher(pairs: list[Pair], work: Path, cfg: GeneratorTrainConfig, me5, vocab: np.ndarray,
                 langs: tuple[str, ...]) -> Batcher:
    """A :class:`Batcher` over the distinct passages of ``pairs`` and an empty one, their
    encoder states cached in ``work``."""
    sources = sorted({p.source for p in pairs} | {"passage: "})
    states, offsets = encode_sources(sources, work, cfg, me5)
    return Batcher(sources, states, offsets, me5.tokenize(sources, cfg.max_source_len),
                   {name: len(me5.tokenize([f"{name}:"], 16)[0]) - 2 for name in ("passage", "query")}, vocab, langs)


def target_ids(pairs: list[Pair], me5, max_target_len: int) -> list[list[int]]:
    """Each pair's question as mE5 piece ids, cut to ``max_target_len - 1`` and ended by ``</s>``."""
    return [t[1:-1][: max_target_len - 1] + [2] for t in me5.tokenize([p.target for p in pairs], max_target_len + 1)]


def sampling_weights(pairs: list[Pair], temperature: float, mlqa_weight: float) -> np.ndarray:
    """p(pair) = p(lang) * p(pair | lang): p(lang) ~ N_lang ** temperature (multilingual
    sampling as in XLM / mT5), and within a language the pairs of the task itself, an English
    passage and a question in the language (MLQA, ``en-context`` sources), weigh ``mlqa_weight``."""
    langs = np.array([p.lang for p in pairs])
    within = np.array([mlqa_weight if p.origin == "mlqa" or p.kind == "en-context" else 1.0 for p in pairs])
    weights = np.zeros(len(pairs))
    names, counts = np.unique(langs, return_counts=True)
    lang_p = counts ** temperature / (counts ** temperature).sum()
    for name, p_lang in zip(names, lang_p):
        sel = langs == name
        weights[sel] = p_lang * within[sel] / within[sel].sum()
    return weights / weights.sum()
