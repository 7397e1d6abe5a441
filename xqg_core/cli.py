"""``python -m xqg_core SUBCOMMAND``: one sub-command per stage.

Errors in the input (a malformed file, a missing dataset, no network) are printed as one
line naming what to fix, with exit status 2; no traceback.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from xqg_core.errors import DataFormatError, XqgError


def _cmd_embed(args: argparse.Namespace) -> None:
    from xqg_core.data.records import read_text
    from xqg_core.io import save_npy_atomic
    from xqg_core.models.encoders import load_encoder

    output = Path(args.output)
    if output.is_dir() or output.exists():
        raise XqgError(f"--output {output}: {'is a directory' if output.is_dir() else 'exists'}; "
                       "name a new .npy file")
    texts = read_text(args.input).splitlines()
    encoder = load_encoder(args.model, device=args.device, pooling=args.pooling, normalize=args.normalize,
                           q_max_len=args.max_length, p_max_len=args.max_length)
    dtype = np.float16 if args.fp16 else np.float32
    encode = encoder.encode_queries if args.side == "query" else encoder.encode_passages
    vectors = encode(texts, batch_size=args.batch_size, show_progress=True, dtype=dtype)
    save_npy_atomic(args.output, vectors)
    print(f"wrote {vectors.shape[0]} x {vectors.shape[1]} {vectors.dtype} to {args.output}", file=sys.stderr)


def load_xor_predictions(path: Path) -> list[dict]:
    """Read and validate an official XOR-Retrieve prediction file."""
    from xqg_core.data.records import parse_json, read_text

    preds = parse_json(path, read_text(path))
    if not isinstance(preds, list):
        raise DataFormatError(path, None, None, "expected a JSON list of {id, lang, ctxs} records")
    for i, rec in enumerate(preds):
        where = f"[{i}]"
        if not isinstance(rec, dict):
            raise DataFormatError(path, None, where, "expected an object")
        for key, kind in (("id", (str, int)), ("lang", str), ("ctxs", list)):
            if key not in rec:
                raise DataFormatError(path, None, f"{where}.{key}", "missing")
            if not isinstance(rec[key], kind):
                raise DataFormatError(path, None, f"{where}.{key}", f"wrong type {type(rec[key]).__name__}")
        for j, ctx in enumerate(rec["ctxs"]):
            if not isinstance(ctx, str):
                raise DataFormatError(path, None, f"{where}.ctxs[{j}]", "expected a passage text (string)")
    return preds


def _cmd_evaluate_xor(args: argparse.Namespace) -> None:
    from xqg_core.data.loaders import load_xor_queries
    from xqg_core.retrieval.evaluate import evaluate_xor_retrieve

    questions = load_xor_queries(args.data_file)
    if not questions:
        raise DataFormatError(args.data_file, None, None, "no questions")
    gold = {q.id: q.answers for q in questions}
    preds = load_xor_predictions(Path(args.pred_file))
    seen: set[str] = set()
    for i, pred in enumerate(preds):
        if str(pred["id"]) in seen:
            raise DataFormatError(args.pred_file, None, f"[{i}].id", f"prediction for {pred['id']!r} occurs twice")
        seen.add(str(pred["id"]))
    if not seen & set(gold):
        raise XqgError(f"{args.pred_file}: no prediction's id is a question of {args.data_file}")
    result = evaluate_xor_retrieve(gold, preds, mode=args.tokenizer)
    if not result["counts"]:
        raise XqgError(f"{args.pred_file}: no prediction could be scored (every matching question has only yes/no answers)")
    rounded = {k: ({lang: round(v, 4) for lang, v in d.items()} if k.startswith("R@") else d) for k, d in result.items()}
    print(json.dumps(rounded, ensure_ascii=False, indent=2))


def _cmd_evaluate_queries(args: argparse.Namespace) -> None:
    from xqg_core.explore.evaluate_queries import evaluate_query_set, read_query_file
    from xqg_core.models.encoders import load_encoder
    from xqg_core.study.artifacts import load_artifacts, resolve_study

    if any(not 0.0 <= a <= 1.0 for a in args.alpha):
        raise XqgError("--alpha must be in [0, 1]")
    arts = load_artifacts(args.artifacts)
    if args.plm not in arts.encoders:
        raise XqgError(f"--plm {args.plm}: the study holds {', '.join(arts.encoders)}")
    study = resolve_study(arts, args.data_dir)
    queries = read_query_file(args.queries, args.lang, study)
    result = evaluate_query_set(arts, study, args.plm, load_encoder(args.plm), queries, args.lang, args.alpha, args.n)
    print(json.dumps(result, ensure_ascii=False, indent=1, allow_nan=False))  # strict JSON: no NaN


def _cmd_findings(args: argparse.Namespace) -> None:
    from xqg_core.explore.findings import findings_markdown
    from xqg_core.io import write_text_atomic
    from xqg_core.study.artifacts import load_artifacts

    if args.output and Path(args.output).is_dir():
        raise XqgError(f"--output {args.output}: a directory; give a file name, e.g. {Path(args.output) / 'findings.md'}")
    text = findings_markdown(load_artifacts(args.artifacts))
    if args.output:
        write_text_atomic(args.output, text)
    else:
        print(text, end="")


def _cmd_report(args: argparse.Namespace) -> None:
    from xqg_core.explore.study_report import print_pdf, study_report_html
    from xqg_core.io import write_text_atomic
    from xqg_core.study.artifacts import load_artifacts

    for option, path in (("--output", args.output), ("--pdf", args.pdf)):
        if path and Path(path).is_dir():
            raise XqgError(f"{option} {path}: a directory; give a file name, e.g. {Path(path) / 'study.html'}")
    write_text_atomic(args.output, study_report_html(load_artifacts(args.artifacts)))
    print(f"report: written to {args.output}")
    if args.pdf:
        print_pdf(Path(args.output), Path(args.pdf))
        print(f"report: printed to {args.pdf}")


def _cmd_data(args: argparse.Namespace) -> None:
    from xqg_core.data.download import DATASETS, download_dataset
    from xqg_core.explore.status import collect_status

    if args.data_cmd == "download":
        dest = download_dataset(args.name, args.to)
        print(f"{args.name}: written to {dest}")
    elif args.data_cmd == "list":
        for s in DATASETS.values():
            print(f"{s.name:16s} {s.description}\n{'':16s} source: {s.official}\n{'':16s} license: {s.license}")
        print_qg_sources(args.data_dir)
    else:
        status = collect_status(args.data_dir)
        print(f"data directory: {status.data_dir or 'not found'}")
        for d in status.datasets:
            state = "ok" if d.found else d.note or "missing " + ", ".join(d.missing)
            print(f"  {d.name:16s} {state}")


def print_qg_sources(data_dir: str | None) -> None:
    """The generator's extra training sources, with what each yields here (after the XQuAD
    exclusion), or where to get it."""
    from xqg_core.data.qg_sources import QG_SOURCES, TWIN, load_qg_source, source_counts
    from xqg_core.errors import MissingResourceError
    from xqg_core.models.qg_data import GeneratorTrainConfig, qg_data_dir
    from xqg_core.paths import resolve_data_dir

    try:
        root = resolve_data_dir(data_dir)
    except MissingResourceError:
        root = None
    qg_dir = qg_data_dir(GeneratorTrainConfig(), root) if root else None
    print(f"\nquestion-generation training sources (train-generator qg_sources; read from {qg_dir or 'no data dir'}):")
    for s in QG_SOURCES.values():
        print(f"qg-{s.name:13s} {s.description}\n{'':16s} source: github.com/{s.repository} @ {s.commit[:10]}, "
              f"license: {s.license}\n{'':16s} kind: {s.kind}, languages: {', '.join(s.langs)}")
        if s.name == TWIN or qg_dir is None:
            continue
        try:
            counts = source_counts(load_qg_source(s.name, qg_dir, root / "xquad" / "xquad.en.json"))
            print(f"{'':16s} here: {sum(counts.values()):,} pairs (" +
                  ", ".join(f"{k} {v:,}" for k, v in counts.items()) + ")")
        except XqgError as exc:
            print(f"{'':16s} here: not available ({exc})")


def _cmd_generate(args: argparse.Namespace) -> None:
    from xqg_core.data.loaders import load_corpus
    from xqg_core.models.generate import check_languages, generate_to_shards, load_generator

    langs = check_languages([lang.strip() for lang in args.langs.split(",") if lang.strip()])
    output = Path(args.output)
    if output.exists() and not output.is_dir():
        raise XqgError(f"--output {output}: a file exists there; a run directory is needed")
    if output.is_dir() and any(output.iterdir()) and not (output / "run.json").is_file():
        raise XqgError(f"--output {output}: a directory holding something other than a generation run")
    passages = load_corpus(args.input)
    generator = load_generator(args.generator, device=args.device, batch_size=args.batch_size)
    out = generate_to_shards(generator, passages, langs, args.n, args.output, seed=args.seed, shard_size=args.shard_size)
    print(f"{len(passages)} passages x {len(langs)} languages x {args.n} queries in {out}", file=sys.stderr)


def _cmd_train_generator(args: argparse.Namespace) -> None:
    import logging

    from xqg_core.models.qg_data import GeneratorTrainConfig
    from xqg_core.models.train_generator import train

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    cfg = GeneratorTrainConfig.from_yaml(args.config)
    if args.data_dir:
        cfg.data_dir = args.data_dir
    if args.snapshot:
        from xqg_core.models.train_generator import snapshot

        print(f"the run's best weights so far written to {snapshot(cfg, Path(args.snapshot))}", file=sys.stderr)
        return
    out = train(cfg, args.device)
    print(f"generator written to {out}", file=sys.stderr)
    if args.ship:
        from xqg_core.models.train_generator import ship_generator
        from xqg_core.paths import SHIPPED_GENERATOR_DIR

        print(f"float16 copy shipped in {ship_generator(out, SHIPPED_GENERATOR_DIR)}", file=sys.stderr)


def _cmd_precompute(args: argparse.Namespace) -> None:
    from xqg_core.pipeline.run import main_precompute

    main_precompute(args.config, args.stage, args.force, args.shard, args.num_shards, args.executor, args.ray_address,
                    args.reuse_generated)


def _cmd_status(args: argparse.Namespace) -> None:
    from xqg_core.explore.status import collect_status

    print(json.dumps(collect_status(args.data_dir).to_dict(), indent=2))


def _cmd_encoders(args: argparse.Namespace) -> None:
    from xqg_core.models.encoders import ENCODERS

    for spec in ENCODERS.values():
        where = "offline" if spec.offline else f"hub: {spec.model_id}"
        pooling = "-" if spec.family == "use" else spec.pooling  # USE is a TF graph with its own pooling
        print(f"{spec.name:14s} {pooling:4s} norm={str(spec.normalize):5s} q{spec.q_max_len}/p{spec.p_max_len} "
              f"[{where}] {spec.description}")


def _cmd_reindex(args: argparse.Namespace) -> None:
    from xqg_core.pipeline.reindex import main_reindex

    main_reindex(args.artifacts, args.work_dir)


def int_at_least(minimum: int):
    """An argparse type: an integer >= ``minimum`` (argparse reports a bad value in one line, exit 2)."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return value
    return parse


positive_int, non_negative_int = int_at_least(1), int_at_least(0)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m xqg_core", description="xQG Explorer engine.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("embed", help="encode one text per line into an .npy matrix")
    p.add_argument("--model", required=True, help="registry name (see `encoders`), Hugging Face id or local dir")
    p.add_argument("--side", choices=("query", "passage"), required=True)
    p.add_argument("--input", required=True, help="UTF-8 text file, one text per line")
    p.add_argument("--output", required=True, help=".npy file, one row per input line")
    p.add_argument("--fp16", action="store_true", help="store float16 instead of float32")
    p.add_argument("--batch-size", type=positive_int, default=None)
    p.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    p.add_argument("--pooling", choices=("cls", "mean"), default=None, help="override the model's pooling")
    p.add_argument("--normalize", action=argparse.BooleanOptionalAction, default=None, help="L2-normalise")
    p.add_argument("--max-length", type=positive_int, default=None, help="override the side's max token length")
    p.set_defaults(func=_cmd_embed)

    p = sub.add_parser("evaluate-xor", help="official XOR-Retrieve R@2kt / R@5kt of a prediction file")
    p.add_argument("--data-file", required=True, help="gold questions (XOR-Retrieve jsonl)")
    p.add_argument("--pred-file", required=True, help='predictions: [{"id", "lang", "ctxs": [texts]}]')
    p.add_argument("--tokenizer", choices=("punkt", "line"), default="punkt",
                   help="punkt: nltk.word_tokenize as the official script (default); line: preserve_line=True")
    p.set_defaults(func=_cmd_evaluate_xor)

    p = sub.add_parser("evaluate-queries", help="any question file against a shipped study's index (JSON out)")
    p.add_argument("--queries", required=True,
                   help="XQuAD/SQuAD json with the study's question ids, or XOR-Retrieve jsonl with English answers")
    p.add_argument("--lang", required=True, help="the questions' language (ISO code)")
    p.add_argument("--plm", required=True, help="an encoder of the study, e.g. me5-small")
    p.add_argument("--alpha", type=float, action="append", required=True, help="augmentation weight (repeatable)")
    p.add_argument("--n", type=positive_int, default=5, help="generated queries per language summed into S_n")
    p.add_argument("--artifacts", default=None, help="the study's directory (default: cached_artifacts)")
    p.add_argument("--data-dir", default=None, help="only for a study that ships no texts")
    p.set_defaults(func=_cmd_evaluate_queries)

    p = sub.add_parser("findings", help="the study's findings as Markdown: xQG vs baseline vs shuffled, ablation, PAWS-X")
    p.add_argument("--artifacts", default=None, help="the study's directory (default: cached_artifacts)")
    p.add_argument("--output", default=None, help="write the Markdown here (default: print it)")
    p.set_defaults(func=_cmd_findings)

    p = sub.add_parser("report", help="the whole study as one self-contained HTML file (and a PDF printed by chromium)")
    p.add_argument("--artifacts", default=None, help="the study's directory (default: cached_artifacts)")
    p.add_argument("--output", required=True, help="the HTML file to write, e.g. study.html")
    p.add_argument("--pdf", default=None, help="also print it to this PDF (Debian's chromium)")
    p.set_defaults(func=_cmd_report)

    p = sub.add_parser("reindex", help="re-encode a study's index from its own texts, check it, store it as this code does")
    p.add_argument("--artifacts", default=None, help="the study's directory (default: cached_artifacts)")
    p.add_argument("--work-dir", default=None, help="where encoding resumes from (default: {cache}/reindex/{study})")
    p.set_defaults(func=_cmd_reindex)

    p = sub.add_parser("generate", help="generate n queries per passage and language (resumable shards)")
    p.add_argument("--generator", required=True,
                   help="xqg-mt5 (the paper's), released:QUERIES.jsonl, or a Hugging Face id / local dir")
    p.add_argument("--input", required=True, help="passages: Tevatron jsonl (docid, title, text) or DPR tsv")
    p.add_argument("--langs", required=True, help="comma-separated ISO codes, e.g. ar,de,es,hi,ru,vi,zh")
    p.add_argument("--n", type=positive_int, default=5, help="queries per passage and language (the paper: 5)")
    p.add_argument("--output", required=True, help="run directory (shard-*.jsonl + run.json)")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--shard-size", type=positive_int, default=256, help="passages per shard file")
    p.add_argument("--batch-size", type=positive_int, default=None, help="passages (me5-qg) or prompts per batch")
    p.add_argument("--device", default=None)
    p.set_defaults(func=_cmd_generate)

    p = sub.add_parser("train-generator", help="train the offline query generator (resumable)")
    p.add_argument("--config", required=True, help="YAML, e.g. configs/generator.yaml")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--ship", action="store_true",
                   help="then copy the weights in float16 to cached_artifacts/generator (the default generator)")
    p.add_argument("--snapshot", default=None, metavar="DIR",
                   help="write the run's best weights so far to DIR as a generator directory and exit (the run "
                        "is not touched: a candidate can be measured while it trains)")
    p.add_argument("--device", default=None, help="cpu or cuda (default: a GPU where there is one)")
    p.set_defaults(func=_cmd_train_generator)

    p = sub.add_parser("precompute", help="run the study: corpora -> ... -> cached_artifacts (resumable)")
    p.add_argument("--config", required=True, help="YAML, e.g. configs/default.yaml")
    from xqg_core.pipeline.run import STAGES
    from xqg_core.study.executors import EXECUTORS

    p.add_argument("--stage", choices=STAGES,
                   default=None, help="run only this stage (its inputs must be complete)")
    p.add_argument("--force", action="store_true", help="rerun (the chosen stage, or all) even if unchanged")
    p.add_argument("--shard", type=non_negative_int, default=None, help="with --stage generate/encode: run only shard i")
    p.add_argument("--num-shards", type=positive_int, default=None, help="override the config's num_shards")
    p.add_argument("--executor", choices=EXECUTORS, default="local",
                   help="where generate / encode shards and grid shards run: this process (default) or Ray tasks")
    p.add_argument("--ray-address", default=None,
                   help="with --executor ray: a running cluster's address (default: start a local Ray)")
    p.add_argument("--reuse-generated", default=None, metavar="STUDY_DIR",
                   help="take the generated queries of an earlier study (e.g. cached_artifacts) when its manifest "
                        "shows the same generator, settings and data; refused otherwise")
    p.set_defaults(func=_cmd_precompute)

    p = sub.add_parser("data", help="datasets: list sources, check a data dir, download")
    dsub = p.add_subparsers(dest="data_cmd", required=True)
    d = dsub.add_parser("download", help="fetch a dataset from its official source")
    d.add_argument("name")
    d.add_argument("--to", required=True, help="data directory to write into")
    d = dsub.add_parser("list", help="datasets, official sources and licenses; the generator's extra sources "
                                     "with their counts here")
    d.add_argument("--data-dir", default=None)
    d = dsub.add_parser("check", help="which datasets the data directory holds")
    d.add_argument("--data-dir", default=None)
    p.set_defaults(func=_cmd_data)

    p = sub.add_parser("encoders", help="list the registered encoders")
    p.set_defaults(func=_cmd_encoders)

    p = sub.add_parser("status", help="encoders, datasets and artifacts available here (JSON)")
    p.add_argument("--data-dir", default=None)
    p.set_defaults(func=_cmd_status)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except XqgError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # a path that cannot be read or written: one line naming it
        print(f"error: {exc.strerror or exc}: {exc.filename}" if exc.filename else f"error: {exc}", file=sys.stderr)
        return 2
    return 0
