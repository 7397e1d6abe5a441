"""``reindex``: a study's index re-encoded from its own texts, checked against the stored one, swapped in."""
from __future__ import annotations

import json
import re
import shutil

import numpy as np
import pytest

from xqg_core.io import write_json_atomic
from xqg_core.pipeline.reindex import deviation_from_index, reindex
from xqg_core.pipeline.stage_export import manifest_files
from xqg_core.study.artifacts import ArtifactError, load_artifacts


@pytest.fixture()
def study_copy(small_study, tmp_path):
    root = tmp_path / "study"
    shutil.copytree(small_study.resolved_output(), root)
    return root


def test_reindex_reproduces_the_precompute_index_and_keeps_the_rest(small_study, study_copy, tmp_path):
    before = load_artifacts(study_copy).manifest
    arts = reindex(study_copy, tmp_path / "work")
    entry = arts.manifest["index"]
    assert set(entry["deviation"]) == set(entry["encode_seconds"]) == set(small_study.encoders)
    assert all(v > 0 for v in entry["encode_seconds"].values())
    assert all(0 <= v <= 1 for d in entry["deviation"].values() for v in d.values())
    # every file is the study's own: the re-encoded vectors are the precompute's, so the residual
    # levels come out byte for byte as the export wrote them
    assert arts.manifest["files"] == before["files"]
    assert {k: v for k, v in arts.manifest.items() if k != "index"} == before
    work = small_study.resolved_work()
    idx, last = arts.index("use-m-v3"), arts.tensors("index/use-m-v3.level3.safetensors")
    P = np.load(work / "index-use-m-v3-xquad-xr" / "P.npy")
    assert np.all(np.abs(idx["P"] - P) <= last["P.scale"][:, None] / 2 + 1e-7)


def test_reindex_adds_the_residuals_to_a_schema_4_study_and_keeps_its_file(small_study, study_copy, tmp_path):
    from xqg_core.checksums import file_sha1

    full = load_artifacts(study_copy)
    expected = {rel: info for rel, info in full.manifest["files"].items() if ".level" in rel}
    assert len(expected) == 2 * len(small_study.encoders)  # levels 2 and 3 of every PLM
    for rel in expected:
        (study_copy / rel).unlink()
    write_json_atomic(study_copy / "manifest.json", {**full.manifest, "schema_version": 4,
                                                     "files": manifest_files(study_copy)})
    first = file_sha1(study_copy / "index" / "me5-small.safetensors")
    arts = reindex(study_copy, tmp_path / "work")
    assert arts.manifest["schema_version"] == 5 and file_sha1(study_copy / "index" / "me5-small.safetensors") == first
    assert {rel: arts.manifest["files"][rel] for rel in expected} == expected
    assert not (study_copy / ".export.partial").exists() and not (study_copy / ".export.previous").exists()


def test_an_index_that_is_not_the_studys_is_refused_and_the_study_left_as_it_was(study_copy, tmp_path):
    from safetensors.numpy import load_file, save_file

    path = study_copy / "index" / "me5-small.safetensors"
    tensors = load_file(str(path))
    tensors["P"] = tensors["P"][::-1].copy()  # another passage's vector in every row
    save_file(tensors, str(path))
    manifest = json.loads((study_copy / "manifest.json").read_text())
    write_json_atomic(study_copy / "manifest.json", {**manifest, "files": manifest_files(study_copy)})
    listing = sorted(p.relative_to(study_copy).as_posix() for p in study_copy.rglob("*"))
    with pytest.raises(ArtifactError, match="me5-small: the re-encoded index is not the study's"):
        reindex(study_copy, tmp_path / "work")
    assert sorted(p.relative_to(study_copy).as_posix() for p in study_copy.rglob("*")) == listing
    assert load_artifacts(study_copy).manifest.get("index") is None


def test_deviation_is_measured_in_the_storages_rounding_bound():
    rng = np.random.default_rng(0)
    x = {k: rng.normal(size=(2, 4, 8) if k == "S" else (4, 8)).astype(np.float32) for k in ("P", "S", "Q")}
    stored = {k: v.astype(np.float16) for k, v in x.items()}
    read = {k: v.astype(np.float32) for k, v in stored.items()}
    assert max(deviation_from_index(stored, read, x).values()) <= 1.0
    moved = {**x, "Q": x["Q"] + 0.01}  # a hundredth off: far beyond float16's rounding of values ~1
    assert deviation_from_index(stored, read, moved)["Q"] > 1.0
    scaled = {"P": np.full((4, 8), 3, np.int8), "P.scale": np.full(4, 0.1, np.float32), **{k: stored[k] for k in "SQ"}}
    on_grid = {**x, "P": np.full((4, 8), 0.3 + 0.04, np.float32)}  # within half a step (0.05) of 3 x 0.1
    assert deviation_from_index(scaled, {**read, "P": np.full((4, 8), 0.3, np.float32)}, on_grid)["P"] <= 1.0


def test_reindex_cli_names_a_missing_study_in_one_line(tmp_path, capsys):
    from xqg_core.cli import main

    assert main(["reindex", "--artifacts", str(tmp_path / "none")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "no artifacts here" in err and "\n" not in err


def test_a_study_without_an_index_is_named_in_one_line(small_study, study_copy, tmp_path):
    manifest = json.loads((study_copy / "manifest.json").read_text())
    shutil.rmtree(study_copy / "index")
    write_json_atomic(study_copy / "manifest.json", {**manifest, "files": manifest_files(study_copy)})
    with pytest.raises(ArtifactError, match=re.escape(f"no xquad-xr index of {', '.join(small_study.encoders)} to rebuild")):
        reindex(study_copy, tmp_path / "work")
    assert not (study_copy / ".export.partial").exists()
