"""Config files: every bad value is one line naming the file and the setting, before any work."""
from __future__ import annotations

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from xqg_core.errors import DataFormatError, XqgError
from xqg_core.models.qg_data import GeneratorTrainConfig
from xqg_core.study.config import SETTING_RANGES, PrecomputeConfig


@pytest.mark.parametrize("text, message", [
    ("", "the config is empty"),
    ("encoders: me5-small\n", "field 'encoders': expected a list"),
    ("alphas: [0.0, .nan]\n", "alphas must be numbers in \\[0, 1\\]"),
    ("alphas: [0.0, 1.5]\n", "alphas must be numbers in \\[0, 1\\]"),
    ("alphas: [0.0, '0.1']\n", "field 'alphas\\[1\\]': expected a number"),
    ("n_max: 2.5\n", "field 'n_max': expected an integer"),
    ("n_max: true\n", "field 'n_max': expected an integer"),
    ("n_max: 0\n", "n_max must be at least 1"),
    ("top_k: 0\n", "top_k must be at least 1"),
    ("shard_size: -1\n", "shard_size must be at least 1"),
    ("num_shards: 0\n", "num_shards must be at least 1"),
    ("significance_resamples: -5\n", "significance_resamples must be at least 0, not -5"),
    ("umap: {alphas: [.nan]}\n", "umap.alphas must be numbers in \\[0, 1\\]"),
    ("umap: {alphas: [5.0]}\n", "umap.alphas must be numbers in \\[0, 1\\]"),
    ("umap: {neighbors: 0}\n", "umap.neighbors must be at least 2, not 0"),
    ("umap: {passages: 0}\n", "umap.passages must be at least 3, not 0"),
    ("umap: {passages: 10, neighbors: 10}\n", "umap.neighbors \\(10\\) must be below umap.passages \\(10\\)"),
    ("xquad_xr: {max_paragraphs: -3}\n", "xquad_xr.max_paragraphs must be at least 1, not -3"),
    ("xquad_xr: {max_paragraphs: 0}\n", "xquad_xr.max_paragraphs must be at least 1, not 0"),
    ("xquad_xr: {max_words: 0}\n", "xquad_xr.max_words must be at least 1, not 0"),
    ("xquad_xr: {langs: []}\n", "xquad_xr.langs: name at least one"),
    ("pawsx_adv: {max_rows: -5}\n", "pawsx_adv.max_rows must be at least 1, not -5"),
    ("generation_langs: []\n", "generation_langs: name at least one"),
    ("n_max: 3\numap: {n: 5}\n", "umap.n \\(5\\) must not exceed n_max \\(3\\)"),
    ("xquad_xr: [1, 2]\n", "field 'xquad_xr': expected a mapping"),
    ("name: [a, b]\n", "field 'name': expected a string"),
    ("xquad_xr: {distractors: some}\n", "xquad_xr.distractors must be a count >= 0 or all, not 'some'"),
    ("[[[[" * 300 + "]]]]" * 300 + "\n", "expected a mapping|nested too deeply"),
    ("generation_langs: [de, xx]\n", "generation_langs: unknown language code\\(s\\) 'xx'"),
    ("pawsx_adv: {langs: [ar]}\n", "pawsx_adv.langs: unknown language code\\(s\\) 'ar'"),
    ("encoders: [no-such-encoder]\n", "encoders: 'no-such-encoder' is neither a registered encoder"),
    ("generator: nonsense\n", "generator: 'nonsense' is neither"),
])
def test_bad_precompute_settings_name_file_and_setting(tmp_path, text, message):
    path = tmp_path / "study.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DataFormatError, match=message) as err:
        PrecomputeConfig.from_yaml(path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)


def test_config_bytes_that_are_not_utf8_and_a_bom(tmp_path):
    path = tmp_path / "study.yaml"
    path.write_bytes(b"name: caf\xe9\n")
    with pytest.raises(DataFormatError, match="not UTF-8"):
        PrecomputeConfig.from_yaml(path)
    path.write_bytes("\ufeffname: bom\nn_max: 3\n".encode("utf-8"))
    assert PrecomputeConfig.from_yaml(path).n_max == 3


def test_generator_decoding_rules_read_from_yaml(tmp_path):
    path = tmp_path / "gen.yaml"
    path.write_text("decoding:\n  whole_words: true\n  copy_bias: {zh: 1.5, hi: 1}\n", encoding="utf-8")
    cfg = GeneratorTrainConfig.from_yaml(path)
    assert cfg.decoding.whole_words and cfg.decoding.bias_for("zh") == 1.5 and cfg.decoding.bias_for("hi") == 1.0
    path.write_text("decoding:\n  copy_bias: {zh: high}\n", encoding="utf-8")
    with pytest.raises(DataFormatError, match="decoding.copy_bias.zh': expected a number"):
        GeneratorTrainConfig.from_yaml(path)


yaml_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=True) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12)
fields = st.sampled_from(["name", "encoders", "alphas", "n_max", "top_k", "seed", "shard_size", "umap", "xquad_xr",
                          "pawsx_adv", "significance_resamples", "continuity_tolerance", "generation_langs"])


@settings(max_examples=300, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.dictionaries(fields, yaml_values, max_size=4) | yaml_values)
def test_random_yaml_gives_a_config_or_one_line_error(tmp_path, doc):
    path = tmp_path / "fuzz.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    try:
        PrecomputeConfig.from_yaml(path)
    except XqgError as exc:
        assert "\n" not in str(exc)


@settings(max_examples=200, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=200))
def test_random_bytes_give_a_config_or_one_line_error(tmp_path, data):
    path = tmp_path / "fuzz.yaml"
    path.write_bytes(data)
    try:
        PrecomputeConfig.from_yaml(path)
    except XqgError as exc:
        assert str(path) in str(exc) and "\n" not in str(exc)


def test_a_bad_config_writes_nothing(tmp_path, capsys):
    from xqg_core.cli import main

    config = tmp_path / "bad.yaml"
    config.write_text(f"name: bad\noutput_dir: {tmp_path / 'out'}\nwork_dir: {tmp_path / 'work'}\n"
                      "encoders: [me5-small]\ngeneration_langs: [xx]\n", encoding="utf-8")
    assert main(["precompute", "--config", str(config)]) == 2
    assert "generation_langs: unknown language code" in capsys.readouterr().err
    assert [p.name for p in tmp_path.iterdir()] == ["bad.yaml"]


def test_a_released_queries_file_must_exist_to_run(tmp_path, capsys):
    from xqg_core.cli import main

    config = tmp_path / "study.yaml"
    config.write_text(f"name: r\nwork_dir: {tmp_path / 'work'}\ngenerator: released:/nonexistent.jsonl\n", encoding="utf-8")
    assert PrecomputeConfig.from_yaml(config).generator == "released:/nonexistent.jsonl"  # a manifest may name one
    assert main(["precompute", "--config", str(config)]) == 2
    assert "field 'generator': no released-queries file" in capsys.readouterr().err
    assert [p.name for p in tmp_path.iterdir()] == ["study.yaml"]


def test_a_setting_name_with_a_line_break_stays_one_line(tmp_path):
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump({"umap": {"a\nb": 1}}), encoding="utf-8")
    with pytest.raises(DataFormatError) as err:
        PrecomputeConfig.from_yaml(path)
    assert "\n" not in str(err.value) and "field 'umap.a\\nb'" in str(err.value)



@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sampled_from(sorted(SETTING_RANGES.items())), st.integers(-3, 3))
def test_every_numeric_setting_is_refused_below_its_range_and_accepted_at_it(tmp_path, entry, offset):
    """Each setting of SETTING_RANGES at its minimum + offset: accepted from the minimum on,
    refused below it in one line naming the setting (the other settings of its section valid)."""
    name, (low, _) = entry
    value = low + offset
    section, _, field = name.rpartition(".")
    valid = {"umap": {"passages": 50, "neighbors": 2, "n": 1}, "xor_retrieve": {"queries": "q.jsonl", "corpus": "c.jsonl"}}
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump({section: {**valid.get(section, {}), field: value}} if section else {field: value}),
                    encoding="utf-8")
    if value >= low:
        PrecomputeConfig.from_yaml(path)
    else:
        with pytest.raises(DataFormatError, match=name.replace(".", "\\.")) as err:
            PrecomputeConfig.from_yaml(path)
        assert "\n" not in str(err.value)
