from __future__ import annotations

from streamlit.testing.v1 import AppTest

from xqg_core.paths import PROJECT_ROOT


def test_status_page_shows_encoders_and_datasets(data_dir):
    at = AppTest.from_file(str(PROJECT_ROOT / "app.py"), default_timeout=60)
    at.query_params["data_dir"] = str(data_dir)
    at.run()
    assert not at.exception
    assert at.title[0].value == "xQG Explorer"
    encoders = at.dataframe[0].value
    rows = dict(zip(encoders["Name"], encoders["Available"]))
    assert rows["me5-small"] == "yes" and rows["use-m-v3"] == "yes" and rows["mbert-xdr"] == "no"
    datasets = at.dataframe[1].value
    found = dict(zip(datasets["Name"], datasets["Found"]))
    assert found["xquad"] == "yes" and found["pawsx"] == "yes" and found["xor_tydi"] == "yes"
    assert str(data_dir) in at.caption[0].value


def test_status_page_without_data(tmp_path):
    at = AppTest.from_file(str(PROJECT_ROOT / "app.py"), default_timeout=60)
    at.query_params["data_dir"] = str(tmp_path / "nowhere")
    at.run()
    assert not at.exception
    assert "not found" in at.caption[0].value
    found = dict(zip(at.dataframe[1].value["Name"], at.dataframe[1].value["Found"]))
    assert found["xquad"] == "no"
