"""How every settings model reads the environment: one exact name per field, blank means unset, no NaN."""

from __future__ import annotations

import pytest

from sentiment_lib.errors import ConfigError
from sentiment_lib.settings import RuntimeSettings, ServeConfig, resolve_settings
from sentiment_lib.workspace import default_root


def test_a_secret_is_read_under_its_own_name_only():
    assert ServeConfig.from_env({"ADMIN_TOKEN": "tok"}).admin_token == "tok"
    assert ServeConfig.from_env({"SENTIMENT_SERVE_ADMIN_TOKEN": "tok"}).admin_token == ""


def test_names_are_exact():
    assert ServeConfig.from_env({"sentiment_serve_threads": "3"}).threads == ServeConfig().threads
    assert ServeConfig.from_env({"SENTIMENT_SERVE_THREADS": "3"}).threads == 3


def test_a_blank_value_means_unset():
    assert RuntimeSettings.from_environment({"SENTIMENT_THREADS": " "}).threads is None
    assert resolve_settings("quick", environ={"SENTIMENT_BATCH_SIZE": ""}).batch_size == 32


@pytest.mark.parametrize("value", ["nan", "inf", "-1"])
def test_a_timeout_is_finite_and_positive(value):
    with pytest.raises(ConfigError, match="SENTIMENT_SERVE_PREDICT_TIMEOUT_SECONDS"):
        ServeConfig.from_env({"SENTIMENT_SERVE_PREDICT_TIMEOUT_SECONDS": value})


def test_the_command_line_options_are_not_variables():
    config = ServeConfig.from_env({"SENTIMENT_SERVE_HOST": "0.0.0.0", "SENTIMENT_SERVE_WORKSPACE": "/elsewhere"})
    assert (config.host, config.workspace) == ("127.0.0.1", ".")


def test_the_workspace_is_found_whatever_else_is_wrong(monkeypatch, tmp_path):
    monkeypatch.setenv("SENTIMENT_THREADS", "0")  # invalid, judged where threads are used
    monkeypatch.setenv("SENTIMENT_WORKSPACE", str(tmp_path))
    assert default_root() == str(tmp_path)
    with pytest.raises(ConfigError, match="SENTIMENT_THREADS: Input should be greater than or equal to 1"):
        RuntimeSettings.from_environment()


def test_an_unknown_backend_is_refused_by_name():
    with pytest.raises(ConfigError, match="SENTIMENT_BACKEND: Input should be 'onnx-int8', 'torch' or 'openvino'"):
        RuntimeSettings.from_environment({"SENTIMENT_BACKEND": "onnx"})
