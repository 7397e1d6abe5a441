from __future__ import annotations

import pytest

from xqg_core.errors import MissingResourceError
from xqg_core.paths import cache_dir, resolve_data_dir


def test_cache_dir_env_override(tmp_path, monkeypatch):
    monkeypatch.setenv("XQG_CACHE", str(tmp_path / "cache"))
    assert cache_dir() == tmp_path / "cache" and (tmp_path / "cache").is_dir()


def test_data_dir_precedence(tmp_path, monkeypatch):
    env_dir, flag_dir = tmp_path / "env", tmp_path / "flag"
    env_dir.mkdir(), flag_dir.mkdir()
    monkeypatch.setenv("XQG_DATA_DIR", str(env_dir))
    assert resolve_data_dir() == env_dir.resolve()
    assert resolve_data_dir(flag_dir) == flag_dir.resolve()


def test_missing_data_dir_says_how_to_fix(tmp_path, monkeypatch):
    monkeypatch.setenv("XQG_DATA_DIR", str(tmp_path / "nowhere"))
    with pytest.raises(MissingResourceError, match="XQG_DATA_DIR.*data download"):
        resolve_data_dir()
    assert resolve_data_dir(required=False) is None
