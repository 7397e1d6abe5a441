"""The export's swap of studies: a kill at any point leaves one whole study after recovery."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from xqg_core.study import artifacts
from xqg_core.study.swap import recover_swap, swap_in


def make_study(root: Path, tag: str, with_umap: bool) -> dict[str, str]:
    files = {"manifest.json": json.dumps({"tag": tag}), "results.parquet": f"results {tag}",
             "index/me5-small.safetensors": f"index {tag}"}
    if with_umap:
        files["umap.parquet"] = f"umap {tag}"
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return files


def study_files(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): p.read_text() for p in sorted(root.rglob("*"))
            if p.is_file() and not p.relative_to(root).as_posix().startswith((".export", "generator"))}


@pytest.mark.parametrize("kill_after", range(12))
def test_a_kill_during_the_swap_recovers_a_whole_study(tmp_path, monkeypatch, kill_after):
    out = tmp_path / "cached_artifacts"
    make_study(out, "old", with_umap=True)
    (out / "generator").mkdir()
    (out / "generator" / "model.safetensors").write_text("weights")  # not part of a study: never moved
    new = make_study(out / ".export.partial", "new", with_umap=False)
    renames = []
    real_rename = Path.rename

    def rename(self, target):
        if len(renames) == kill_after:
            raise KeyboardInterrupt  # killed before this move
        renames.append(self)
        return real_rename(self, target)

    monkeypatch.setattr(Path, "rename", rename)
    try:
        swap_in(out)
    except KeyboardInterrupt:
        pass
    monkeypatch.setattr(Path, "rename", real_rename)
    recover_swap(out)
    # the new study was complete before the swap began, so recovery always finishes it
    assert study_files(out) == new, kill_after
    assert (out / "generator" / "model.safetensors").read_text() == "weights"
    assert not [p.name for p in out.iterdir() if p.name.startswith(".export")]


@pytest.mark.parametrize("files_removed", range(5))
@pytest.mark.parametrize("new_has_umap", [False, True])
def test_a_kill_while_the_old_study_is_removed_keeps_the_new_one(tmp_path, monkeypatch, files_removed, new_has_umap):
    """The last step removes the old study file by file; a kill part way through it must not
    make recovery move the old study's remains over the new one (it did: the `.complete`
    marker can go before the folder). The same swap serves the export and reindex."""
    import shutil

    out = tmp_path / "cached_artifacts"
    make_study(out, "old", with_umap=True)
    new = make_study(out / ".export.partial", "new", with_umap=new_has_umap)
    real_rmtree = shutil.rmtree

    def dying_rmtree(path, *args, **kwargs):
        files = sorted(p for p in Path(path).rglob("*") if p.is_file())
        marker = [p for p in files if p.name == ".complete"]
        for p in (marker + [p for p in files if p not in marker])[:files_removed]:  # the marker first: worst case
            p.unlink()
        raise KeyboardInterrupt

    monkeypatch.setattr(shutil, "rmtree", dying_rmtree)
    with pytest.raises(KeyboardInterrupt):
        swap_in(out)
    monkeypatch.setattr(shutil, "rmtree", real_rmtree)
    assert study_files(out) == new  # the new study is in place even before recovery
    recover_swap(out)
    assert study_files(out) == new
    assert not [p.name for p in out.iterdir() if p.name.startswith(".export")]


def test_a_partial_export_without_manifest_is_removed(tmp_path):
    out = tmp_path / "cached_artifacts"
    old = make_study(out, "old", with_umap=True)
    (out / ".export.partial" / "index").mkdir(parents=True)
    recover_swap(out)
    assert study_files(out) == old and not (out / ".export.partial").exists()


def test_loading_finishes_an_interrupted_swap(tmp_path, monkeypatch):
    out = tmp_path / "cached_artifacts"
    make_study(out, "old", with_umap=True)
    make_study(out / ".export.partial", "new", with_umap=False)
    (out / ".export.previous").mkdir()
    for name in ("manifest.json", "results.parquet", "index", "umap.parquet"):
        (out / name).rename(out / ".export.previous" / name)
    (out / ".export.previous" / ".complete").touch()
    with pytest.raises(artifacts.ArtifactError, match="schema_version"):  # a toy manifest, but the new one
        artifacts.load_artifacts(out)
    assert json.loads((out / "manifest.json").read_text()) == {"tag": "new"}


def test_the_export_refuses_a_study_over_its_size_budget(tmp_path, monkeypatch):
    """The manifest's file list: every file but the manifest, with sha1 and bytes; a file over the
    per-file limit, or a study over the total, is refused by name before anything is listed."""
    from xqg_core.pipeline import stage_export

    (tmp_path / "index").mkdir()
    (tmp_path / "index" / "a.safetensors").write_bytes(b"x" * 700)
    (tmp_path / "results.parquet").write_bytes(b"y" * 400)
    (tmp_path / "manifest.json").write_text("{}")
    files = stage_export.manifest_files(tmp_path)
    assert {k: v["bytes"] for k, v in files.items()} == {"index/a.safetensors": 700, "results.parquet": 400}
    monkeypatch.setattr(stage_export, "MAX_TOTAL_BYTES", 1000)
    with pytest.raises(artifacts.ArtifactError, match=r"the study total 0.0011 MB, over the 0.001 MB limit"):
        stage_export.manifest_files(tmp_path)
    monkeypatch.setattr(stage_export, "MAX_FILE_BYTES", 500)
    with pytest.raises(artifacts.ArtifactError, match=r"index/a.safetensors is 0.0007 MB, over the 0.0005 MB limit"):
        stage_export.manifest_files(tmp_path)
