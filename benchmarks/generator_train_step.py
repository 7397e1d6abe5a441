"""Seconds per training step of the query generator: padded, packed passages, packed + bfloat16.

Runs the trainer's own steps (``batch_loss``, AdamW, the trainer's batches and dropout seeds) on
the real pairs of ``--config`` (default ``configs/generator-v3.yaml``) with their real encoder
states (the run's cache, encoded first if missing), from the same initial weights, for each way
of computing a step; reports the mean seconds per step beside the median (batches differ: a
step's cost follows its longest passage) and how far each way's training loss strays from the
padded float32 one on the same batches.

    python -m benchmarks.generator_train_step [--config C] [--steps 40] [--write]
"""
from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import replace

import numpy as np

from benchmarks.report import machine_line, publish, tree_label

WAYS = {
    "padded, float32": {"pack_sources": False, "bf16": False},
    "packed passages, float32": {"pack_sources": True, "bf16": False},
    "packed passages, bfloat16 autocast (attention in float32)": {"pack_sources": True, "bf16": True},
}


def time_steps(cfg, me5, pairs, targets, vocab, batcher, steps: int, warm: int = 2) -> dict[str, dict]:
    """Each way's seconds and training loss per step. The ways take turns step by step (this
    machine's speed drifts by tens of percent over minutes; in turns, every way sees the drift)."""
    import torch

    from xqg_core.models.qg_data import sampling_weights
    from xqg_core.models.train_generator import build_model, optimizer_step, step_pairs

    runs = {}
    for name, way in WAYS.items():
        run_cfg = replace(cfg, **way)
        torch.manual_seed(cfg.seed)
        model = build_model(run_cfg, vocab, me5).train()
        trainable = [p for p in model.parameters() if p.requires_grad]
        runs[name] = {"cfg": run_cfg, "model": model, "trainable": trainable, "seconds": [], "losses": [],
                      "optimizer": torch.optim.AdamW(trainable, lr=cfg.lr, weight_decay=cfg.weight_decay)}
    weights = sampling_weights(pairs.train, cfg.lang_temperature, cfg.mlqa_weight)
    for step in range(warm + steps):
        for run in runs.values():
            chosen = step_pairs(cfg, step, weights)  # for each way: the same pairs and dropout masks
            start = time.perf_counter()
            batch = batcher([pairs.train[j] for j in chosen], [targets[j] for j in chosen])
            loss = optimizer_step(run["model"], run["optimizer"], run["trainable"], batch, run["cfg"].bf16)
            if step >= warm:
                run["seconds"].append(time.perf_counter() - start)
                run["losses"].append(loss)
    return {name: {"mean": statistics.fmean(run["seconds"]), "median": statistics.median(run["seconds"]),
                   "losses": run["losses"]} for name, run in runs.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="configs/generator-v3.yaml")
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()

    from xqg_core.models.encoders import load_encoder
    from xqg_core.models.qg_data import GeneratorTrainConfig, make_batcher, prepare_targets

    cfg = GeneratorTrainConfig.from_yaml(args.config)
    me5 = load_encoder("me5-small", device="cpu")
    pairs, targets, vocab = prepare_targets(cfg, me5)
    states_dir = cfg.resolved_states_dir()
    states_dir.mkdir(parents=True, exist_ok=True)
    batcher = make_batcher(pairs.train + pairs.heldout, states_dir, cfg, me5, vocab, tuple(cfg.langs))
    lengths = np.diff(batcher.offsets)
    runs = time_steps(cfg, me5, pairs, targets, vocab, batcher, args.steps)
    base = runs["padded, float32"]
    lines = [
        "## Generator training step (`python -m benchmarks.generator_train_step --write`)", "",
        f"Machine: {machine_line()}. Tree {tree_label()}. Config `{args.config}`: {len(pairs.train):,} training "
        f"pairs, batch {cfg.batch_size}, {cfg.layers} decoder layers, output vocabulary {len(vocab):,} pieces; "
        f"passages of {int(np.median(lengths))} pieces (median; mean {lengths.mean():.0f}, "
        f"{(lengths >= cfg.max_source_len).mean():.1%} at the cap of {cfg.max_source_len}), so a batch pads to about "
        f"{cfg.max_source_len}. The trainer's first {args.steps} steps after 2 warm-up steps, from the same weights on the "
        "same batches, the ways taking turns step by step; loss gap: the largest |training loss - the padded float32 loss| over those steps.", "",
        "| way | s / step (mean) | median | speed-up (mean) | loss gap |", "|---|---|---|---|---|",
    ]
    for name, run in runs.items():
        gap = max(abs(a - b) for a, b in zip(run["losses"], base["losses"]))
        lines.append(f"| {name} | {run['mean']:.3f} | {run['median']:.3f} | {base['mean'] / run['mean']:.2f}x | {gap:.2e} |")
    publish("generator-train-step", lines, args.write)


if __name__ == "__main__":
    main()
