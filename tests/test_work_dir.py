"""One precompute per work directory, and directories that are directories, before any stage."""
from __future__ import annotations

import dataclasses

import pytest

from xqg_core.errors import XqgError
from xqg_core.pipeline.run import run_study
from xqg_core.pipeline.runner import work_dir_lock
from xqg_core.study.config import PrecomputeConfig


def test_a_second_run_on_a_work_dir_is_refused_in_one_line(tmp_path):
    with work_dir_lock(tmp_path):
        with pytest.raises(XqgError, match=r"in use by another precompute \(pid \d+\)") as err:
            with work_dir_lock(tmp_path):
                pass
        assert "\n" not in str(err.value)
        with pytest.raises(XqgError):
            with work_dir_lock(tmp_path, shard=0):  # a cluster job beside a whole run
                pass
    with work_dir_lock(tmp_path):  # released with the run
        pass


def test_shard_jobs_run_side_by_side_but_each_shard_once(tmp_path):
    with work_dir_lock(tmp_path, shard=0), work_dir_lock(tmp_path, shard=1):
        with pytest.raises(XqgError):
            with work_dir_lock(tmp_path, shard=1):
                pass
        with pytest.raises(XqgError):
            with work_dir_lock(tmp_path):
                pass


def test_run_study_refuses_a_locked_work_dir_before_any_stage(tmp_path):
    cfg = PrecomputeConfig(work_dir=str(tmp_path / "work"), output_dir=str(tmp_path / "out"))
    with work_dir_lock(cfg.resolved_work()):
        with pytest.raises(XqgError, match="in use by another precompute"):
            run_study(cfg)
    assert [p.name for p in (tmp_path / "work").iterdir()] == [".lock"]


@pytest.mark.parametrize("setting", ["output_dir", "work_dir"])
def test_a_directory_setting_that_is_a_file_is_refused_before_any_stage(tmp_path, setting):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    cfg = PrecomputeConfig(work_dir=str(tmp_path / "work"), output_dir=str(tmp_path / "out"))
    cfg = dataclasses.replace(cfg, **{setting: str(blocker / "sub")})
    with pytest.raises(XqgError, match=f"{setting}: .* cannot be a directory, .*file is a file"):
        run_study(cfg)
    assert not (tmp_path / "work").exists() or setting == "work_dir"
