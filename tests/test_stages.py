from __future__ import annotations

import json

import numpy as np
import pytest

from xqg_core.checksums import file_sha1, fingerprint
from xqg_core.pipeline.runner import StageRunner


def writer(text, calls):
    def fn(out, scratch):
        calls.append(text)
        (out / "result.txt").write_text(text)
    return fn


def test_unchanged_inputs_skip_and_changed_inputs_rerun(tmp_path):
    runner, calls = StageRunner(tmp_path), []
    a = runner.run("encode", {"model": "me5-small"}, writer("v1", calls))
    assert not a.skipped and (a.output / "result.txt").read_text() == "v1"
    b = runner.run("encode", {"model": "me5-small"}, writer("v2", calls))
    assert b.skipped and calls == ["v1"] and (b.output / "result.txt").read_text() == "v1"
    c = runner.run("encode", {"model": "use-m-v3"}, writer("v3", calls))
    assert not c.skipped and (c.output / "result.txt").read_text() == "v3"
    d = runner.run("encode", {"model": "use-m-v3"}, writer("v4", calls), force=True)
    assert not d.skipped and calls == ["v1", "v3", "v4"]
    log = [json.loads(line) for line in (tmp_path / "timings.jsonl").read_text().splitlines()]
    assert [(r["stage"], r["skipped"]) for r in log] == [("encode", False), ("encode", True), ("encode", False), ("encode", False)]


def test_killed_stage_keeps_no_half_output_and_reruns(tmp_path):
    runner = StageRunner(tmp_path)

    def dies(out, scratch):
        (out / "result.txt").write_text("half")
        (scratch / "shard-0").write_text("kept across the kill")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        runner.run("generate", {"n": 5}, dies)
    assert not (tmp_path / "generate").exists() and not (tmp_path / "generate.done.json").exists()
    seen = []

    def resumes(out, scratch):
        seen.append((scratch / "shard-0").read_text())
        (out / "result.txt").write_text("full")

    result = runner.run("generate", {"n": 5}, resumes)
    assert seen == ["kept across the kill"] and (result.output / "result.txt").read_text() == "full"
    assert not (tmp_path / "generate.scratch").exists() and not (tmp_path / ".generate.partial").exists()


def test_a_failed_rerun_does_not_count_old_outputs_as_current(tmp_path):
    runner, calls = StageRunner(tmp_path), []
    runner.run("grid", {"alphas": [0, 0.01]}, writer("old", calls))

    def fails(out, scratch):
        raise RuntimeError("bad config")

    with pytest.raises(RuntimeError):
        runner.run("grid", {"alphas": [0, 0.02]}, fails)
    assert not runner.is_done("grid", fingerprint({"alphas": [0, 0.01]}))
    assert runner.run("grid", {"alphas": [0, 0.01]}, writer("again", calls)).skipped is False


def test_fingerprints(tmp_path):
    assert fingerprint({"a": 1, "b": [2, 3]}) == fingerprint({"b": [2, 3], "a": 1})
    assert fingerprint({"a": 1}) != fingerprint({"a": 2})
    f = tmp_path / "x.bin"
    f.write_bytes(b"abc")
    assert file_sha1(f) == "a9993e364706816aba3e25717850c26c9cd0d89d"


def test_scratch_of_other_inputs_is_never_resumed(tmp_path):
    """Killed with one input, rerun with another: the chunks written for the first are gone
    (else encoding would splice stale vectors into the new run); force starts afresh too."""
    runner = StageRunner(tmp_path)

    def dies(out, scratch):
        (scratch / "chunk-0.npy").write_text("vectors of the old texts")
        raise KeyboardInterrupt

    seen = []

    def resumes(out, scratch):
        seen.append(sorted(p.name for p in scratch.iterdir() if not p.name.startswith(".")))
        (out / "result.txt").write_text("done")

    for killed, rerun, force in (({"texts": "old"}, {"texts": "old"}, False), ({"texts": "old"}, {"texts": "new"}, False),
                                 ({"texts": "new"}, {"texts": "new"}, True)):
        with pytest.raises(KeyboardInterrupt):
            runner.run("encode", killed, dies, force=True)
        runner.run("encode", rerun, resumes, force=force)
    assert seen == [["chunk-0.npy"], [], []]


def test_arrays_parquet_round_trip_and_bad_files(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from xqg_core.io import load_arrays_parquet, save_arrays_parquet

    arrays = {"R@2kt": np.array([[[1, 0, -1]]], dtype=np.int8), "x/MRR@10": np.arange(6, dtype=np.float16).reshape(2, 3),
              "parts": np.zeros((0, 4), dtype=np.float32)}
    save_arrays_parquet(tmp_path / "a.parquet", arrays)
    back = load_arrays_parquet(tmp_path / "a.parquet")
    assert back.keys() == arrays.keys()
    assert all(back[k].dtype == v.dtype and np.array_equal(back[k], v) for k, v in arrays.items())
    pq.write_table(pa.table({"key": ["a"], "dtype": ["int8"], "shape": [[4]], "data": [b"abc"]}), tmp_path / "bad.parquet")
    with pytest.raises(ValueError, match="bad.parquet: array 'a'"):
        load_arrays_parquet(tmp_path / "bad.parquet")
    pq.write_table(pa.table({"key": ["a"], "dtype": ["object"], "shape": [[1]], "data": [b"a"]}), tmp_path / "obj.parquet")
    with pytest.raises(ValueError, match="obj.parquet"):
        load_arrays_parquet(tmp_path / "obj.parquet")
