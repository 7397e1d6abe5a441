"""Does a deeper decoder help the query generator? Held-out loss at equal training, by depth.

Trains ``--config`` (default ``configs/generator-v3.yaml``) once per decoder depth for the same
``--steps`` (its own warm-up and linear decay to 0 over them, the same seed, batches and
dropout seeds), each warm-started from mE5's first layers, sharing the config's cached encoder
states; reports the teacher-forced loss per target piece on the held-out MLQA pairs with the
true passage, a shuffled one and an empty one (the trainer's :func:`heldout_losses`) for the
best evaluation of each run. Runs are resumable: a rerun continues where one stopped.

    python -m benchmarks.generator_depth [--layers 4,6] [--steps 1000] [--write]
"""
from __future__ import annotations

import argparse
import json
import re
from dataclasses import replace
from pathlib import Path

from benchmarks.report import machine_line, publish, tree_label


def depth_config(base, layers: int, steps: int):
    stem = Path(base.output_dir).name
    return replace(base, layers=layers, steps=steps, warmup_steps=min(base.warmup_steps, steps // 10),
                   eval_every=max(1, steps // 8), patience=0, output_dir=f"generator-depth/{stem}-{layers}l-{steps}",
                   encoder_states_dir=str(base.resolved_states_dir()))


def seconds_per_step(log: Path) -> float | None:
    """The last ``(x s/step)`` the trainer logged (the mean over its run since the last resume)."""
    found = re.findall(r"\(([\d.]+) s/step\)", log.read_text(encoding="utf-8")) if log.is_file() else []
    return float(found[-1]) if found else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="configs/generator-v3.yaml")
    parser.add_argument("--layers", default="4,6")
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()

    import logging

    from xqg_core.models.qg_data import GeneratorTrainConfig
    from xqg_core.models.train_generator import train

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    base = GeneratorTrainConfig.from_yaml(args.config)
    configs = [depth_config(base, int(layers), args.steps) for layers in args.layers.split(",")]
    rows = []
    for cfg in configs:
        out = train(cfg)
        meta = json.loads((out / "generator.json").read_text(encoding="utf-8"))
        rows.append((cfg.layers, meta["heldout_loss"], seconds_per_step(out / "train.log")))
    lines = [
        "## Generator depth (`python -m benchmarks.generator_depth --write`)", "",
        f"Machine: {machine_line()}. Tree {tree_label()}. Config `{args.config}` ({base.batch_size} pairs a step, "
        f"packed passages: {base.pack_sources}, bfloat16: {base.bf16}), each depth trained for {args.steps:,} steps "
        f"(warm-up {configs[0].warmup_steps}, linear decay to 0, held-out evaluation every "
        f"{configs[0].eval_every} steps); held-out MLQA pairs (contexts never trained on), loss per target piece "
        "at the best evaluation; gap = shuffled - true, what the passage is worth to the decoder; s / step: the "
        "trainer's own log, held-out evaluations included.", "",
        "| decoder layers | loss true | shuffled | empty | gap | best at step | s / step |", "|---|---|---|---|---|---|---|",
    ]
    for layers, held, per_step in rows:
        lines.append(f"| {layers} | {held['true']:.3f} | {held['shuffled']:.3f} | {held['empty']:.3f} | "
                     f"{held['shuffled'] - held['true']:.3f} | {held['step']} | "
                     f"{'' if per_step is None else f'{per_step:.2f}'} |")
    publish("generator-depth", lines, args.write)


if __name__ == "__main__":
    main()
