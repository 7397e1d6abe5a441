from __future__ import annotations

import os
from pathlib import Path

import pytest

from xqg_core.errors import MissingResourceError
from xqg_core.paths import resolve_data_dir


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The official files (XQG_DATA_DIR or ../shared/data); tests read small real slices.

    Without a data directory these tests are skipped with the reason, except in CI
    (CI=true), where the data must be there and its absence is a failure.
    """
    try:
        return resolve_data_dir()
    except MissingResourceError as exc:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip(str(exc))


@pytest.fixture(scope="session")
def me5():
    from xqg_core.encoders import load_encoder

    return load_encoder("me5-small", device="cpu")
