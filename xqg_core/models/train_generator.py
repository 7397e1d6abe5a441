"""Train the offline query generator (``python -m xqg_core train-generator --config configs/generator.yaml``).

The pairs, their held-out split and their batches: :mod:`xqg_core.models.qg_data`.

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

import json
import logging
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from xqg_core.errors import XqgError
from xqg_core.io import MAX_FILE_BYTES, atomic_path, over_size_budget, write_json_atomic
from xqg_core.models.qg_data import (
    Batcher,
    GeneratorTrainConfig,
    Pair,
    make_batcher,
    prepare_targets,
    sampling_weights,
    target_ids,
    write_lexicon,
)

log = logging.getLogger("xqg_core.models.train_generator")

MAX_WEIGHTS_BYTES = 80_000_000  # the shipped generator directory in all (each file also under 50 MB)


def build_model(cfg: GeneratorTrainConfig, vocab: np.ndarray, me5):
    """A fresh generator warm-started from the mE5 encoder ``me5``."""
    import torch

    from xqg_core.models.generate import LANGUAGE_NAMES
    from xqg_core.models.qg_model import QGConfig, QueryGenerator, init_language_embeddings, warm_start

    bert = me5.model
    qcfg = QGConfig(layers=cfg.layers, max_source_len=cfg.max_source_len, max_target_len=cfg.max_target_len,
                    langs=tuple(cfg.langs), dropout=cfg.dropout, copy=cfg.copy, pack_sources=cfg.pack_sources)
    model = QueryGenerator(qcfg, torch.from_numpy(vocab), bert.embeddings.word_embeddings.weight.detach().clone(),
                           bert.embeddings.position_embeddings.weight.detach().clone())
    warm_start(model, bert)
    name_ids = {lang: [i for i in me5.tokenize([LANGUAGE_NAMES[lang]], 16)[0][1:-1]] for lang in cfg.langs}
    init_language_embeddings(model, name_ids)
    return model


def train(cfg: GeneratorTrainConfig, device: str | None = None) -> Path:
    """Train (or resume) the generator described by ``cfg`` on ``device`` (default: a GPU where
    there is one); returns its directory. A run may resume on another device; only a CPU run
    repeats a CPU run's weights exactly."""
    out = cfg.resolved_output()
    out.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(out / "train.log", encoding="utf-8")  # appended to across resumes
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    try:
        return _train(cfg, out, device)
    finally:
        log.removeHandler(handler)
        handler.close()


def batch_loss(model, batch: dict, bf16: bool = False):
    """Mean negative log-likelihood per target piece (the forward pass in bfloat16 autocast with ``bf16``)."""
    import torch

    batch = on_device(batch, model.vocab.device)
    with torch.autocast(model.vocab.device.type, dtype=torch.bfloat16, enabled=bf16):
        logp = model.target_log_probs(**batch)
    keep = batch["labels"] >= 0
    return -(logp.float() * keep).sum() / keep.sum()


def step_pairs(cfg: GeneratorTrainConfig, step: int, weights: np.ndarray) -> np.ndarray:
    """The training pairs of step ``step``, drawn from ``weights`` by a generator seeded by
    (seed, step); the step's dropout masks are seeded too, so a resumed run repeats both."""
    import torch

    torch.manual_seed(cfg.seed * 1_000_003 + step)
    return np.random.default_rng([cfg.seed, step]).choice(len(weights), size=cfg.batch_size, p=weights)


def optimizer_step(model, optimizer, trainable: list, batch: dict, bf16: bool) -> float:
    """One AdamW step on ``batch`` (gradients clipped to norm 1); the batch's loss."""
    import torch

    loss = batch_loss(model, batch, bf16)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(trainable, 1.0)
    optimizer.step()
    return loss.item()


def on_device(batch: dict, device) -> dict:
    return {k: v.to(device) for k, v in batch.items()}


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
                batch = on_device(batcher(chunk, tchunk, source_of), model.vocab.device)
                keep = batch["labels"] >= 0
                sums[name][0] += float(-(model.target_log_probs(**batch) * keep).sum())
                sums[name][1] += int(keep.sum())
    model.train(was_training)
    return {name: total / count for name, (total, count) in sums.items() if count}


def _train(cfg: GeneratorTrainConfig, out: Path, device: str | None) -> Path:
    import torch
    from safetensors.torch import save_file

    torch.manual_seed(cfg.seed)
    from xqg_core.models.encoders import load_encoder

    me5 = load_encoder("me5-small", device=device)
    pairs, targets, vocab = prepare_targets(cfg, me5)
    log.info("device %s", me5.device)
    log.info("config %s", json.dumps(asdict(cfg)))
    log.info("pairs: %d train, %d held out; output vocabulary %d pieces", len(pairs.train), len(pairs.heldout), len(vocab))
    # the held-out contexts and an empty passage are encoded too: the held-out loss reads them
    states_dir = cfg.resolved_states_dir()
    states_dir.mkdir(parents=True, exist_ok=True)
    batcher = make_batcher(pairs.train + pairs.heldout, states_dir, cfg, me5, vocab, tuple(cfg.langs))
    heldout_targets = target_ids(pairs.heldout, me5, cfg.max_target_len)

    model = build_model(cfg, vocab, me5).to(me5.device)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=cfg.lr, weight_decay=cfg.weight_decay)
    step, best = _load_checkpoint(out, cfg, model, optimizer)
    weights = sampling_weights(pairs.train, cfg.lang_temperature, cfg.mlqa_weight)
    model.train()
    t0, losses = time.time(), []
    while step < cfg.steps and not (cfg.patience and best["stale"] >= cfg.patience):
        chosen = step_pairs(cfg, step, weights)
        for group in optimizer.param_groups:  # linear warm-up, then linear decay to 0
            group["lr"] = cfg.lr * min(1.0, (step + 1) / cfg.warmup_steps) * max(0.0, 1 - step / cfg.steps)
        batch = batcher([pairs.train[j] for j in chosen], [targets[j] for j in chosen])
        losses.append(optimizer_step(model, optimizer, trainable, batch, cfg.bf16))
        step += 1
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


def _trainable_state(model) -> dict:
    keep = {n for n, p in model.named_parameters() if p.requires_grad} | {"vocab"}
    return {k: v.contiguous().cpu() for k, v in model.state_dict().items() if k in keep}


def _save_checkpoint(model, optimizer, step: int, best: dict, out: Path, save_file, cfg: GeneratorTrainConfig) -> None:
    state = optimizer.state_dict()
    tensors, meta_state = {}, {}
    for k, st in state["state"].items():
        tensors[f"{k}.exp_avg"], tensors[f"{k}.exp_avg_sq"] = st["exp_avg"].cpu(), st["exp_avg_sq"].cpu()
        meta_state[str(k)] = {"step": float(st["step"])}
    with atomic_path(out / "checkpoint-model.safetensors") as tmp:
        save_file(_trainable_state(model), str(tmp))
    with atomic_path(out / "checkpoint-optimizer.safetensors") as tmp:
        save_file(tensors, str(tmp))
    # written last: a checkpoint counts only once its tensors are on disk
    write_json_atomic(out / "checkpoint.json", {"step": step, "best": best, "train_config": asdict(cfg), "optimizer": {
        "state": meta_state, "param_groups": state["param_groups"]}})


def training_settings(train_config: dict) -> dict:
    """What a checkpoint must share with the config to resume it: everything but the decoding rules
    and where the encoder states are cached."""
    return {k: v for k, v in train_config.items() if k not in ("decoding", "encoder_states_dir")}


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


def snapshot(cfg: GeneratorTrainConfig, dest: Path) -> Path:
    """The run's best weights so far (its lowest held-out loss) written to ``dest`` as a generator
    directory that ``generate`` and ``benchmarks/generator_quality.py --candidate`` read; the run
    itself is neither stopped nor changed, so a candidate is measured while its training goes on."""
    from safetensors.torch import load_file, save_file

    from xqg_core.models.encoders import load_encoder

    out = cfg.resolved_output()
    best, ckpt = out / "best-model.safetensors", out / "checkpoint.json"
    if not (best.is_file() and ckpt.is_file()):
        raise XqgError(f"{out}: no held-out evaluation has kept weights yet (best-model.safetensors); train longer")
    if dest.resolve() == out.resolve():
        raise XqgError(f"{dest}: the run's own directory; write the snapshot elsewhere")
    kept = json.loads(ckpt.read_text(encoding="utf-8"))["best"]
    me5 = load_encoder("me5-small", device="cpu")
    pairs, targets, vocab = prepare_targets(cfg, me5)
    model = build_model(cfg, vocab, me5)
    model.load_state_dict(load_file(str(best)), strict=False)
    dest.mkdir(parents=True, exist_ok=True)
    write_lexicon(dest, cfg, pairs, targets, vocab)
    _save_final(model, cfg, vocab, pairs, [], dest, save_file, {"true": kept["loss"], "step": kept["step"]})
    return dest


def ship_generator(trained: Path, dest: Path) -> Path:
    """Copy a trained generator into ``dest`` (the repository's ``cached_artifacts/generator``)
    with its weights in float16: written to a partial directory, swapped in whole; refused (and
    ``dest`` left as it was) over 50 MB a file or 80 MB in all."""
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
    problem = over_size_budget({p.name: p.stat().st_size for p in partial.iterdir()}, MAX_FILE_BYTES,
                               MAX_WEIGHTS_BYTES, "the generator weights")
    if problem:
        shutil.rmtree(partial)
        raise XqgError(f"{problem}; nothing was shipped")
    previous = dest.with_name(dest.name + ".previous")
    shutil.rmtree(previous, ignore_errors=True)
    if dest.exists():
        dest.rename(previous)
    partial.rename(dest)
    shutil.rmtree(previous, ignore_errors=True)
    return dest
