"""Choosing me5-qg's decoding rules on held-out data (never on a study's passages).

The held-out MLQA contexts (never trained on; the same split as the generator's held-out
loss) each get ``n`` queries per language; every query is encoded with ``me5-small`` and
ranked against all MLQA contexts (the retrieval corpus of this check). Settings:

- ``plain``: the trained model's own mixture of generating and copying;
- ``words``: whole-word copying, no repeated bigram, a passage word copied once
  (:class:`xqg_core.models.qg_decoding.DecodingRules`);
- ``words, bias b``: the same, with the copy gate's logit lowered by b in every language.

Per language the rule keeps, among the biases whose queries stay in their language -
``langid`` accuracy (choosing among the generation languages and English) >= ``--min-lang-acc``
and a share of letters in the language's script no more than ``--max-script-loss`` below
that of the language's real training questions (copied names in another script are
welcome, a query made of them is not) - the one with the highest self-retrieval@10.

    python -m benchmarks.decoding_rules [--biases 0.5 1 1.5 2] [--write]
"""
from __future__ import annotations

import argparse
import hashlib
import json
from collections import defaultdict
from pathlib import Path

import numpy as np

from benchmarks.generator_quality import CLOSED_SET, LANGS, language_accuracy, script_share, self_retrieval_ranks
from benchmarks.report import machine_line, publish
from xqg_core.data.records import Passage
from xqg_core.io import write_json_atomic
from xqg_core.models.generate import Me5QueryGenerator
from xqg_core.models.qg_data import GeneratorTrainConfig, build_pairs
from xqg_core.models.qg_decoding import DecodingRules


def mlqa_passages(pairs) -> dict[str, Passage]:
    """One passage per distinct MLQA context, keyed by the context text."""
    out: dict[str, Passage] = {}
    for pair in pairs:
        if pair.origin == "mlqa" and pair.group not in out:
            docid = "mlqa-" + hashlib.sha1(pair.group.encode("utf-8")).hexdigest()[:10]
            out[pair.group] = Passage(docid, pair.title, pair.group)
    return out


def choose(scores: dict[str, dict[str, tuple[float, ...]]], min_lang_acc: float, min_script: dict[str, float]) -> dict[str, float]:
    """Per language: the bias with the best sr@10 among those with langid accuracy >= ``min_lang_acc``
    and script share >= ``min_script[lang]`` (0 when none passes).
    ``scores[setting][lang] = (sr@10, lang_acc, lang_acc97, script)``; settings named ``bias b``."""
    chosen = {}
    for lang in LANGS:
        ok = [(sr, float(name.split()[-1])) for name, by_lang in scores.items() if name.startswith("bias")
              for sr, acc, _, script in [by_lang[lang]] if acc >= min_lang_acc and script >= min_script[lang]]
        chosen[lang] = max(ok)[1] if ok else 0.0
    return chosen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--generator", default=None, help="me5-qg directory (default: the shipped weights)")
    parser.add_argument("--biases", type=float, nargs="+", default=[0.5, 1.0, 1.5, 2.0])
    parser.add_argument("--apply", default=None, metavar="DIR",
                        help="write the chosen rules into DIR/generator.json (e.g. cached_artifacts/generator)")
    parser.add_argument("--min-lang-acc", type=float, default=0.95)
    parser.add_argument("--max-script-loss", type=float, default=0.15)
    parser.add_argument("--n", type=int, default=5)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()

    from xqg_core.models.encoders import load_encoder

    me5 = load_encoder("me5-small", device="cpu")
    pairs = build_pairs(GeneratorTrainConfig.from_yaml("configs/generator.yaml"))
    corpus = mlqa_passages(pairs.train + pairs.heldout)
    texts = list(corpus)
    P = me5.encode_passages([corpus[t].contents for t in texts])
    sample = [corpus[t] for t in sorted(mlqa_passages(pairs.heldout))]
    owner = np.array([texts.index(p.text) for p in sample])

    settings = {"plain": DecodingRules(), "words": DecodingRules({}, True, True, True)}
    settings |= {f"bias {b:g}": DecodingRules({lang: b for lang in LANGS}, True, True, True) for b in args.biases}
    real_script = {lang: script_share([p.target for p in pairs.train + pairs.heldout if p.lang == lang], lang)
                   for lang in LANGS}
    min_script = {lang: real_script[lang] - args.max_script_loss for lang in LANGS}
    gen = Me5QueryGenerator(args.generator)
    scores: dict[str, dict[str, tuple[float, float, float, float]]] = defaultdict(dict)
    examples = {}
    for name, rules in settings.items():
        gen.rules = rules
        out = gen.generate(sample, list(LANGS), args.n, args.seed)
        examples[name] = {lang: out[0][lang][0] for lang in LANGS}
        for lang in LANGS:
            queries = [q for per in out for q in per[lang]]
            ranks = self_retrieval_ranks(me5.encode_queries(queries), np.repeat(owner, args.n), P)
            scores[name][lang] = (float(np.mean(ranks < 10)), language_accuracy(queries, lang, CLOSED_SET),
                                  language_accuracy(queries, lang), script_share(queries, lang))
        print(name, scores[name], flush=True)
    chosen = choose(scores, args.min_lang_acc, min_script)

    lines = ["## me5-qg decoding rules (`python -m benchmarks.decoding_rules --write`)", "",
             f"Chosen on held-out data only: the {len(sample)} held-out MLQA contexts (never trained on), {args.n} queries per "
             f"language each, encoded with me5-small and ranked against all {len(texts):,} MLQA contexts. Cells: "
             f"self-retrieval@10 / `langid` accuracy among the generation languages and English / among its 97 languages / "
             f"share of letters in the language's script. Rule: per language the bias with the best sr@10 whose first "
             f"langid accuracy is >= {args.min_lang_acc} and whose script share is at most {args.max_script_loss} below "
             "that of the real training questions (" + ", ".join(f"{l} {v:.2f}" for l, v in real_script.items())
             + f"). {machine_line()}.", "",
             "| setting | " + " | ".join(LANGS) + " |", "|---|" + "---|" * len(LANGS)]
    for name, by_lang in scores.items():
        lines.append(f"| {name} | " + " | ".join("{:.2f} / {:.2f} / {:.2f} / {:.2f}".format(*by_lang[lang])
                                                for lang in LANGS) + " |")
    lines += ["", "Chosen copy bias: " + ", ".join(f"{lang} {b:g}" for lang, b in chosen.items()), "",
              f"First query of *{sample[0].title}* per setting:", ""]
    lines += [f"- {name}: " + "; ".join(f"{lang}: {q}" for lang, q in by_lang.items()) for name, by_lang in examples.items()]
    publish("generator-decoding", lines, args.write)
    if args.apply:
        path = Path(args.apply) / "generator.json"
        meta = json.loads(path.read_text(encoding="utf-8"))
        meta["decoding"] = DecodingRules(chosen, True, True, True).to_dict()
        write_json_atomic(path, meta)
        print(f"wrote the decoding rules into {path}")


if __name__ == "__main__":
    main()
