from __future__ import annotations

from pathlib import Path

import pytest

from xqg_core.paths import resolve_data_dir


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The official files (../shared/data or XQG_DATA_DIR); tests read small real slices."""
    return resolve_data_dir()


@pytest.fixture(scope="session")
def me5():
    from xqg_core.encoders import load_encoder

    return load_encoder("me5-small", device="cpu")
