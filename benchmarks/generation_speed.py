"""me5-qg generation speed, this tree against an earlier commit in the same run, on the same
passages, with the queries compared one by one.

The passages are Vital Articles passages of the study corpus (a seeded sample of the
shipped ``corpora/xquad-xr`` order, texts from ``cached_artifacts/texts``); each side
generates 5 queries in each of the 7 study languages per passage, 8 passages per batch,
as the precompute does, after one warm-up batch. The earlier commit runs in a temporary
git worktree (its own code, the same weights, the same Python).

    python -m benchmarks.generation_speed [--against COMMIT] [--passages 48] [--write]
"""
from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from benchmarks.report import machine_line, publish, run_in_tree, tree_label, worktree

PROJECT_ROOT = Path(__file__).resolve().parent.parent
LANGS = ["ar", "de", "es", "hi", "ru", "vi", "zh"]

# Run inside either tree: time the generation of the given passages, print JSON.
CHILD = r"""
import json, sys, time
try:
    from xqg_core.data.records import Passage
    from xqg_core.models.generate import load_generator
except ImportError:  # a tree from before the subpackages
    from xqg_core.data import Passage
    from xqg_core.generate import load_generator
passages = [Passage(**p) for p in json.loads(open(sys.argv[1], encoding="utf-8").read())]
gen = load_generator("me5-qg:" + sys.argv[2])
gen.generate(passages[:8], LANGS, 5, 42)  # warm-up
start = time.perf_counter()
out = gen.generate(passages, LANGS, 5, 42)
print(json.dumps({"seconds": time.perf_counter() - start, "queries": out}, ensure_ascii=False))
""".replace("LANGS", repr(LANGS))


def sample_passages(count: int, seed: int) -> list[dict]:
    import numpy as np

    from xqg_core.study.artifacts import load_artifacts, resolve_study

    corpus = resolve_study(load_artifacts()).corpora["xquad-xr"]
    vital = [p for p in corpus if p.docid.startswith("vital-")]
    chosen = np.random.default_rng(seed).choice(len(vital), size=min(count, len(vital)), replace=False)
    return [{"docid": vital[i].docid, "title": vital[i].title, "text": vital[i].text} for i in sorted(chosen)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--against", default="cd6e0bd", help="the earlier commit (default: before the sampling speed-ups)")
    ap.add_argument("--passages", type=int, default=48)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    generator_dir = PROJECT_ROOT / "cached_artifacts" / "generator"
    with tempfile.TemporaryDirectory() as tmp:
        passages_file = Path(tmp) / "passages.json"
        passages = sample_passages(args.passages, args.seed)
        passages_file.write_text(json.dumps(passages, ensure_ascii=False), encoding="utf-8")
        with worktree(args.against, Path(tmp) / "against") as old_tree:
            old = run_in_tree(old_tree, CHILD, str(passages_file), str(generator_dir))
        new = run_in_tree(PROJECT_ROOT, CHILD, str(passages_file), str(generator_dir))
    pairs = [(a, b) for pa, pb in zip(old["queries"], new["queries"]) for lang in LANGS
             for a, b in zip(pa[lang], pb[lang])]
    same = sum(a == b for a, b in pairs)
    head = tree_label()
    lines = ["## Generation speed (`python -m benchmarks.generation_speed --write`)", "",
             f"Machine: {machine_line()}. me5-qg (shipped weights), {len(passages)} Vital Articles passages x 7 "
             "languages x 5 queries, 8 passages per batch, after a warm-up batch; both trees in one run.", "",
             "| code | seconds | queries/s |", "|---|---|---|"]
    for name, r in ((f"`{args.against}` (before)", old), (f"`{head}` (this tree)", new)):
        lines.append(f"| {name} | {r['seconds']:.1f} | {len(pairs) / r['seconds']:.1f} |")
    lines += ["", f"Identical queries: {same:,} of {len(pairs):,}. Speed-up {old['seconds'] / new['seconds']:.2f}x: "
              "finished rows leave the batch (a query is 14 pieces on average, the batch ran to the longest of "
              "its 280), and each language's rows are scored only against the pieces they may take in the call."]
    publish("generation-speed", lines, args.write)


if __name__ == "__main__":
    main()
