from __future__ import annotations

import streamlit as st
from streamlit.testing.v1 import AppTest

from xqg_core.paths import PROJECT_ROOT


def test_status_page_shows_encoders_and_datasets(data_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("XQG_CACHE", str(tmp_path))  # an empty cache: nothing trained or converted yet
    st.cache_data.clear()
    at = AppTest.from_file(str(PROJECT_ROOT / "app.py"), default_timeout=60)
    at.query_params["data_dir"] = str(data_dir)
    at.run()
    assert not at.exception
    assert at.title[0].value == "xQG Explorer"
    encoders = at.dataframe[0].value
    rows = dict(zip(encoders["Name"], encoders["Available"]))
    assert rows["me5-small"] == "yes" and rows["use-m-v3"] == "yes" and rows["mbert-xdr"] == "no"
    generators = dict(zip(at.dataframe[1].value["Name"], at.dataframe[1].value["Available"]))
    assert generators == {"me5-qg": "no", "xqg-mt5": "no"}
    (tmp_path / "me5-qg").mkdir()
    (tmp_path / "me5-qg" / "model.safetensors").write_bytes(b"")
    st.cache_data.clear()  # the page caches the status for a minute
    at.run()
    assert dict(zip(at.dataframe[1].value["Name"], at.dataframe[1].value["Available"]))["me5-qg"] == "yes"
    datasets = at.dataframe[2].value
    found = dict(zip(datasets["Name"], datasets["Found"]))
    assert found["xquad"] == "yes" and found["pawsx"] == "yes" and found["xor_tydi"] == "yes"
    assert str(data_dir) in at.caption[0].value


def test_status_page_without_data(tmp_path):
    at = AppTest.from_file(str(PROJECT_ROOT / "app.py"), default_timeout=60)
    at.query_params["data_dir"] = str(tmp_path / "nowhere")
    at.run()
    assert not at.exception
    assert "not found" in at.caption[0].value
    found = dict(zip(at.dataframe[2].value["Name"], at.dataframe[2].value["Found"]))
    assert found["xquad"] == "no"
