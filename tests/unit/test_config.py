from __future__ import annotations

import papermill
import pytest

from sentiment_lib import config
from sentiment_lib import notebooks as pipeline
from sentiment_lib.errors import ConfigError


@pytest.mark.parametrize("preset", sorted(config.PRESETS))
def test_presets_are_valid(preset):
    assert config.resolve_settings(preset, environ={}).preset == preset


def test_resolution_order_preset_env_flags():
    env = {"SENTIMENT_LEARNING_RATE": "0.0003", "SENTIMENT_BATCH_SIZE": "8", "OTHER": "x"}
    settings = config.resolve_settings("smoke", {"batch_size": "4"}, environ=env)
    assert settings.learning_rate == 0.0003  # env beats preset
    assert settings.batch_size == 4  # flag beats env
    assert settings.max_train_samples == config.PRESETS["smoke"]["max_train_samples"]


def test_preset_from_env():
    assert config.resolve_settings(environ={"SENTIMENT_PRESET": "full"}).max_train_samples == 0


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"batch_size": "many"}, "'batch_size' must be int, got 'many'"),
        ({"augment": "maybe"}, "'augment' must be true or false"),
        ({"learning_rate": 2}, "learning_rate must be between 0 and 1"),
        ({"val_fraction": 0.7}, "val_fraction and test_fraction"),
        ({"report_to": "tensorboard"}, "report_to may name mlflow and wandb only"),
        ({"bogus": 1}, "Unknown setting 'bogus'"),
    ],
)
def test_bad_values_are_explained(overrides, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        config.resolve_settings("quick", overrides, environ={})


def test_unknown_preset():
    with pytest.raises(ConfigError, match="Unknown preset 'huge'"):
        config.resolve_settings("huge", environ={})


@pytest.mark.parametrize("step", list(pipeline.STEPS))
def test_notebook_defaults_are_the_quick_preset(step):
    """A notebook opened in Jupyter runs with the same values as `runner.py STEP --preset quick`."""
    quick = config.resolve_settings("quick", environ={})
    declared = papermill.inspect_notebook(str(pipeline.notebook_path(step)))
    for name, info in declared.items():
        if name in config.field_types():
            assert eval(info["default"]) == getattr(quick, name), name  # literal defaults only


def test_serving_and_alert_settings_share_the_strict_parser(monkeypatch):
    from sentiment_lib.monitoring.alerts import SmtpConfig
    from sentiment_lib.serving.api import ServeConfig

    monkeypatch.setenv("SENTIMENT_SERVE_MICRO_BATCHING", "off")
    monkeypatch.setenv("SENTIMENT_SERVE_MAX_BATCH_ITEMS", "20")
    config = ServeConfig.from_env()
    assert config.micro_batching is False and config.max_batch_items == 20
    monkeypatch.setenv("SENTIMENT_SERVE_MICRO_BATCHING", "maybe")
    with pytest.raises(ConfigError, match="'SENTIMENT_SERVE_MICRO_BATCHING' must be true or false"):
        ServeConfig.from_env()
    with pytest.raises(ConfigError, match="'ALERT_SMTP_STARTTLS' must be true or false"):
        SmtpConfig.from_env({"ALERT_EMAIL_TO": "a@b.test", "ALERT_SMTP_STARTTLS": "sometimes"})


def test_the_old_serving_name_variable_is_refused_not_ignored(monkeypatch):
    from sentiment_lib.serving.api import ServeConfig

    monkeypatch.setenv("SENTIMENT_SERVE_REGISTERED_MODEL_NAME", "foo")
    with pytest.raises(ConfigError, match="set SENTIMENT_REGISTERED_MODEL_NAME"):
        ServeConfig.from_env()
