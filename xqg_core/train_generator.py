"""Train the offline query generator (``python -m xqg_core train-generator --config configs/generator.yaml``).

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

Every ``eval_every`` steps the teacher-forced loss on the held-out MLQA pairs is
measured with the true passage and with a shuffled one (another held-out context);
``model.safetensors`` keeps the weights with the lowest held-out loss, and training
stops after ``patience`` evaluations without improvement.

Stages, each resumable: (1) the frozen encoder's states for every distinct source are
computed once and saved; (2) training saves a checkpoint (safetensors + json, no
pickle) every ``checkpoint_every`` steps and resumes from the last one; batches are
drawn from a generator seeded by (seed, step), so a resumed run sees the same batches.
"""
from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from .config import load_yaml_config
from .data import load_squad, load_xor_translations
from .errors import XqgError
from .io import atomic_path, write_json_atomic
from .paths import cache_dir, resolve_data_dir
from .qg_model import DecodingRules

log = logging.getLogger("xqg_core.train_generator")

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
    # how the trained model samples (qg_model.DecodingRules; chosen by benchmarks/decoding_rules.py
    # on held-out data); not part of training, so a changed rule resumes a run
    decoding: DecodingRules = field(default_factory=DecodingRules)

    @classmethod
    def from_yaml(cls, path: str | Path) -> "GeneratorTrainConfig":
        return load_yaml_config(cls, path)

    def resolved_output(self) -> Path:
        out = Path(self.output_dir)
        return out if out.is_absolute() else cache_dir() / out


def clean_question(text: str) -> str:
    """Some MLQA questions end in a literal backslash-n (two characters): drop it."""
    return text.replace("\\n", " ").strip()


@dataclass(frozen=True)
class Pair:
    source: str  # encoder input, with its mE5 prefix
    lang: str
    target: str
    origin: str  # mlqa / tydi / xor-translation
    group: str  # the context, for the held-out split
    title: str = ""


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
    return pairs


# ----------------------------------------------------------------------------- stage 1
def encode_sources(sources: list[str], out: Path, cfg: GeneratorTrainConfig, me5) -> tuple[np.ndarray, np.ndarray]:
    """Frozen-encoder states of every source, concatenated: (states [tokens, H] fp16, offsets)."""
    import torch
    from safetensors.numpy import load_file, save_file

    path = out / "encoder_states.safetensors"
    digest = hashlib.sha1("\x00".join(sources).encode("utf-8")).hexdigest()
    meta = out / "encoder_states.json"
    if path.is_file() and meta.is_file() and json.loads(meta.read_text())["sources_sha1"] == digest:
        saved = load_file(str(path))
        return saved["states"], saved["offsets"]
    from .encoders import length_sorted_batches, pad_batch

    ids = me5.tokenize(sources, cfg.max_source_len)
    chunks: list[np.ndarray | None] = [None] * len(sources)
    t0 = time.time()
    with torch.inference_mode():
        for b, idx in enumerate(length_sorted_batches([len(x) for x in ids], cfg.encode_batch_size)):
            input_ids, mask = pad_batch([ids[i] for i in idx], me5.pad_id)
            hidden = me5.model(input_ids=input_ids, attention_mask=mask).last_hidden_state
            for row, i in enumerate(idx):
                chunks[i] = hidden[row, : len(ids[i])].numpy().astype(np.float16)
            if b % 50 == 0:
                log.info("encoded %d/%d sources (%.0f s)", b * cfg.encode_batch_size, len(sources), time.time() - t0)
    offsets = np.zeros(len(sources) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([c.shape[0] for c in chunks])
    states = np.concatenate(chunks)
    with atomic_path(path) as tmp:
        save_file({"states": states, "offsets": offsets}, str(tmp))
    write_json_atomic(out / "encoder_states.json", {"sources_sha1": digest, "sources": len(sources)})
    return states, offsets


# ----------------------------------------------------------------------------- stage 2
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


def build_model(cfg: GeneratorTrainConfig, vocab: np.ndarray, me5):
    """A fresh generator warm-started from the mE5 encoder ``me5``."""
    import torch

    from .generate import LANGUAGE_NAMES
    from .qg_model import QGConfig, QueryGenerator, init_language_embeddings, warm_start

    bert = me5.model
    qcfg = QGConfig(layers=cfg.layers, max_source_len=cfg.max_source_len, max_target_len=cfg.max_target_len,
                    langs=tuple(cfg.langs), dropout=cfg.dropout, copy=cfg.copy)
    model = QueryGenerator(qcfg, torch.from_numpy(vocab), bert.embeddings.word_embeddings.weight.detach().clone(),
                           bert.embeddings.position_embeddings.weight.detach().clone())
    warm_start(model, bert)
    name_ids = {lang: [i for i in me5.tokenize([LANGUAGE_NAMES[lang]], 16)[0][1:-1]] for lang in cfg.langs}
    init_language_embeddings(model, name_ids)
    return model


def train(cfg: GeneratorTrainConfig) -> Path:
    """Train (or resume) the generator described by ``cfg``; returns its directory."""
    out = cfg.resolved_output()
    out.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(out / "train.log", encoding="utf-8")  # appended to across resumes
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    try:
        return _train(cfg, out)
    finally:
        log.removeHandler(handler)
        handler.close()


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

        from .qg_model import copy_mask

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


def batch_loss(model, batch: dict):
    """Mean negative log-likelihood per target piece."""
    logp = model.target_log_probs(**batch)
    keep = batch["labels"] >= 0
    return -(logp * keep).sum() / keep.sum()


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


def heldout_losses(model, batcher: Batcher, pairs: list[Pair], targets: list[list[int]], seed: int,
                   batch_size: int = 64) -> dict[str, float]:
    """Teacher-forced loss per target piece on ``pairs`` with the true passage, with a
    shuffled one (a derangement of the pairs' distinct passages, fixed by ``seed``) and
    with an empty passage. True close to shuffled means the decoder ignores the passage."""
    import torch

    distinct = sorted({p.source for p in pairs})
    rng = np.random.default_rng(seed)
    perm = rng.permutation(len(distinct))
    while len(distinct) > 1 and (perm == np.arange(len(distinct))).any():
        perm = rng.permutation(len(distinct))
    shuffled = {s: distinct[perm[i]] for i, s in enumerate(distinct)}
    empty = "passage: " if "passage: " in batcher.index else None
    was_training = model.training
    model.eval()
    sums: dict[str, list[float]] = {"true": [0.0, 0], "shuffled": [0.0, 0], "empty": [0.0, 0]}
    with torch.inference_mode():
        for a in range(0, len(pairs), batch_size):
            chunk, tchunk = pairs[a : a + batch_size], targets[a : a + batch_size]
            variants = {"true": None, "shuffled": [shuffled[p.source] for p in chunk]}
            if empty:
                variants["empty"] = [empty] * len(chunk)
            for name, source_of in variants.items():
                batch = batcher(chunk, tchunk, source_of)
                keep = batch["labels"] >= 0
                sums[name][0] += float(-(model.target_log_probs(**batch) * keep).sum())
                sums[name][1] += int(keep.sum())
    model.train(was_training)
    return {name: total / count for name, (total, count) in sums.items() if count}


def _train(cfg: GeneratorTrainConfig, out: Path) -> Path:
    import torch
    from safetensors.torch import save_file

    torch.manual_seed(cfg.seed)
    from .encoders import load_encoder

    me5 = load_encoder("me5-small", device="cpu")
    pairs, targets, vocab = prepare_targets(cfg, me5)
    log.info("config %s", json.dumps(asdict(cfg)))
    log.info("pairs: %d train, %d held out; output vocabulary %d pieces", len(pairs.train), len(pairs.heldout), len(vocab))
    # the held-out contexts and an empty passage are encoded too: the held-out loss reads them
    batcher = make_batcher(pairs.train + pairs.heldout, out, cfg, me5, vocab, tuple(cfg.langs))
    heldout_targets = target_ids(pairs.heldout, me5, cfg.max_target_len)

    model = build_model(cfg, vocab, me5)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=cfg.lr, weight_decay=cfg.weight_decay)
    step, best = _load_checkpoint(out, cfg, model, optimizer)
    weights = sampling_weights(pairs.train, cfg.lang_temperature, cfg.mlqa_weight)
    model.train()
    t0, losses = time.time(), []
    while step < cfg.steps and not (cfg.patience and best["stale"] >= cfg.patience):
        rng = np.random.default_rng([cfg.seed, step])
        torch.manual_seed(cfg.seed * 1_000_003 + step)  # dropout masks: a resumed run draws the same ones
        batch = rng.choice(len(pairs.train), size=cfg.batch_size, p=weights)
        loss = batch_loss(model, batcher([pairs.train[j] for j in batch], [targets[j] for j in batch]))
        for group in optimizer.param_groups:  # linear warm-up, then linear decay to 0
            group["lr"] = cfg.lr * min(1.0, (step + 1) / cfg.warmup_steps) * max(0.0, 1 - step / cfg.steps)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trainable, 1.0)
        optimizer.step()
        step += 1
        losses.append(loss.item())
        if step % 20 == 0:
            log.info("step %d/%d loss %.3f (%.2f s/step)", step, cfg.steps, np.mean(losses[-20:]),
                     (time.time() - t0) / len(losses))
        if cfg.eval_every and step % cfg.eval_every == 0 and pairs.heldout:
            held = heldout_losses(model, batcher, pairs.heldout, heldout_targets, cfg.seed)
            improved = held["true"] < best["loss"]
            best = {"loss": held["true"], "step": step, "stale": 0} if improved else {**best, "stale": best["stale"] + 1}
            log.info("step %d held-out loss: true passage %.3f, shuffled %.3f, empty %.3f%s", step, held["true"],
                     held["shuffled"], held.get("empty", float("nan")), " (best)" if improved else "")
            if improved:
                with atomic_path(out / "best-model.safetensors") as tmp:
                    save_file(_trainable_state(model), str(tmp))
        if step % cfg.checkpoint_every == 0 or step == cfg.steps:
            _save_checkpoint(model, optimizer, step, best, out, save_file, cfg)
    if best["step"]:  # the weights with the lowest held-out loss
        from safetensors.torch import load_file

        model.load_state_dict(load_file(str(out / "best-model.safetensors")), strict=False)
    held = heldout_losses(model, batcher, pairs.heldout, heldout_targets, cfg.seed) if pairs.heldout else {}
    write_lexicon(out, cfg, pairs, targets, vocab)
    _save_final(model, cfg, vocab, pairs, losses, out, save_file, {**held, "step": best["step"] or step})
    return out


def _load_checkpoint(out: Path, cfg: GeneratorTrainConfig, model, optimizer) -> tuple[int, dict]:
    """Restore model and AdamW state from ``out``: the step to continue from (0: none) and
    the best held-out loss so far (its step, evaluations since)."""
    import torch
    from safetensors.torch import load_file

    ckpt = out / "checkpoint.json"
    if not ckpt.is_file():
        return 0, {"loss": float("inf"), "step": 0, "stale": 0}
    meta = json.loads(ckpt.read_text())
    if training_settings(meta.get("train_config") or {}) != training_settings(json.loads(json.dumps(asdict(cfg)))):
        raise XqgError(f"{out} holds a checkpoint of another configuration ({ckpt}); "
                       "choose another output_dir or delete that directory")
    model.load_state_dict(load_file(str(out / "checkpoint-model.safetensors")), strict=False)
    opt_tensors = load_file(str(out / "checkpoint-optimizer.safetensors"))
    opt_state = meta["optimizer"]
    for k, st in opt_state["state"].items():
        st["exp_avg"], st["exp_avg_sq"] = opt_tensors[f"{k}.exp_avg"], opt_tensors[f"{k}.exp_avg_sq"]
        st["step"] = torch.tensor(st["step"])
    opt_state["state"] = {int(k): v for k, v in opt_state["state"].items()}
    optimizer.load_state_dict(opt_state)
    log.info("resumed at step %d", meta["step"])
    return int(meta["step"]), meta.get("best", {"loss": float("inf"), "step": 0, "stale": 0})


def sampling_weights(pairs: list[Pair], temperature: float, mlqa_weight: float) -> np.ndarray:
    """p(pair) = p(lang) * p(pair | lang): p(lang) ~ N_lang ** temperature (multilingual
    sampling as in XLM / mT5), and within a language MLQA pairs weigh ``mlqa_weight``."""
    langs = np.array([p.lang for p in pairs])
    within = np.array([mlqa_weight if p.origin == "mlqa" else 1.0 for p in pairs])
    weights = np.zeros(len(pairs))
    names, counts = np.unique(langs, return_counts=True)
    lang_p = counts ** temperature / (counts ** temperature).sum()
    for name, p_lang in zip(names, lang_p):
        sel = langs == name
        weights[sel] = p_lang * within[sel] / within[sel].sum()
    return weights / weights.sum()


def _trainable_state(model) -> dict:
    keep = {n for n, p in model.named_parameters() if p.requires_grad} | {"vocab"}
    return {k: v.contiguous() for k, v in model.state_dict().items() if k in keep}


def _save_checkpoint(model, optimizer, step: int, best: dict, out: Path, save_file, cfg: GeneratorTrainConfig) -> None:
    state = optimizer.state_dict()
    tensors, meta_state = {}, {}
    for k, st in state["state"].items():
        tensors[f"{k}.exp_avg"], tensors[f"{k}.exp_avg_sq"] = st["exp_avg"], st["exp_avg_sq"]
        meta_state[str(k)] = {"step": float(st["step"])}
    with atomic_path(out / "checkpoint-model.safetensors") as tmp:
        save_file(_trainable_state(model), str(tmp))
    with atomic_path(out / "checkpoint-optimizer.safetensors") as tmp:
        save_file(tensors, str(tmp))
    # written last: a checkpoint counts only once its tensors are on disk
    write_json_atomic(out / "checkpoint.json", {"step": step, "best": best, "train_config": asdict(cfg), "optimizer": {
        "state": meta_state, "param_groups": state["param_groups"]}})


def training_settings(train_config: dict) -> dict:
    """What a checkpoint must share with the config to resume it: everything but the decoding rules."""
    return {k: v for k, v in train_config.items() if k != "decoding"}


def _save_final(model, cfg, vocab, pairs, losses, out: Path, save_file, heldout: dict) -> None:
    with atomic_path(out / "model.safetensors") as tmp:
        save_file(_trainable_state(model), str(tmp))
    previous = out / "generator.json"  # a rerun after the last step keeps the training loss it logged
    final_loss = (float(np.mean(losses[-50:])) if losses else
                  json.loads(previous.read_text(encoding="utf-8")).get("final_loss") if previous.is_file() else None)
    counts: dict[str, int] = {}
    for p in pairs.train:
        counts[f"{p.origin}/{p.lang}"] = counts.get(f"{p.origin}/{p.lang}", 0) + 1
    write_json_atomic(out / "generator.json", {
        "model": model.cfg.to_dict(), "train_config": asdict(cfg), "vocab_size": int(len(vocab)),
        "train_pairs": counts, "heldout_pairs": len(pairs.heldout), "final_loss": final_loss,
        "heldout_loss": heldout, "decoding": asdict(cfg.decoding),
    })


def ship_generator(trained: Path, dest: Path) -> Path:
    """Copy a trained generator into ``dest`` (the repository's ``cached_artifacts/generator``)
    with its weights in float16: written to a partial directory, swapped in whole."""
    import shutil

    from safetensors.torch import load_file, save_file

    partial = dest.with_name(dest.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    state = load_file(str(trained / "model.safetensors"))
    save_file({k: v.half() if v.is_floating_point() else v for k, v in state.items()}, str(partial / "model.safetensors"))
    for name in ("generator.json", "lexicon.safetensors"):
        shutil.copyfile(trained / name, partial / name)
    for path in partial.iterdir():
        path.chmod(0o644)
    previous = dest.with_name(dest.name + ".previous")
    shutil.rmtree(previous, ignore_errors=True)
    if dest.exists():
        dest.rename(previous)
    partial.rename(dest)
    shutil.rmtree(previous, ignore_errors=True)
    return dest
