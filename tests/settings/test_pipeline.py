from __future__ import annotations

import papermill
import pytest

from sentiment_lib import notebooks as pipeline
from sentiment_lib import settings as config
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


def test_fast_is_quick_in_three_layers():
    """The fast preset's teacher is what quick trains: the two differ in the student's depth alone."""
    quick = config.resolve_settings("quick", environ={}).to_dict()
    fast = config.resolve_settings("fast", environ={}).to_dict()
    assert {name for name in quick if quick[name] != fast[name]} == {"preset", "layers"}
    assert (quick["layers"], fast["layers"]) == (0, 3)


def test_preset_from_env():
    assert config.resolve_settings(environ={"SENTIMENT_PRESET": "full"}).max_train_samples == 0


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"batch_size": "many"},
            "batch_size: Input should be a valid integer, unable to parse string as an integer, got 'many'",
        ),
        ({"augment": "maybe"}, "augment: Input should be a valid boolean, unable to interpret input, got 'maybe'"),
        ({"learning_rate": 2}, "learning_rate: Input should be less than 1, got 2"),
        ({"val_fraction": 0.7}, "val_fraction: Input should be less than 0.5"),
        ({"report_to": "tensorboard"}, "report_to: may name only mlflow and wandb, or none"),
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


def test_a_bad_variable_is_named_in_the_error():
    with pytest.raises(ConfigError, match="SENTIMENT_EVAL_STEPS: Input should be greater than 0, got '0'"):
        config.resolve_settings("quick", environ={"SENTIMENT_EVAL_STEPS": "0"})


def test_an_override_of_a_bad_variable_wins_and_is_not_blamed():
    env = {"SENTIMENT_EVAL_STEPS": "0"}
    assert config.resolve_settings("quick", {"eval_steps": 10}, environ=env).eval_steps == 10


def test_replace_validates_and_keeps_the_rest():
    quick = config.resolve_settings("quick", environ={})
    assert quick.replace(batch_size="8").batch_size == 8
    assert quick.replace(batch_size=8).learning_rate == quick.learning_rate
    with pytest.raises(ConfigError, match="Unknown setting 'bogus'"):
        quick.replace(bogus=1)


def test_the_gate_thresholds_are_the_settings():
    smoke = config.resolve_settings("smoke", {"gate_margin": "0.02"}, environ={})
    assert smoke.gate.margin == 0.02 and smoke.gate.min_feedback_rows == config.PRESETS["smoke"]["min_feedback_rows"]
    assert config.GateThresholds().margin == config.Settings().gate_margin


def test_serving_and_alert_settings_share_the_strict_parser(monkeypatch):
    from sentiment_lib.alerting.smtp import SmtpConfig
    from sentiment_lib.serving.api import ServeConfig

    monkeypatch.setenv("SENTIMENT_SERVE_MICRO_BATCHING", "off")
    monkeypatch.setenv("SENTIMENT_SERVE_MAX_BATCH_ITEMS", "20")
    config = ServeConfig.from_env()
    assert config.micro_batching is False and config.max_batch_items == 20
    monkeypatch.setenv("SENTIMENT_SERVE_MICRO_BATCHING", "maybe")
    with pytest.raises(ConfigError, match="SENTIMENT_SERVE_MICRO_BATCHING: Input should be a valid boolean"):
        ServeConfig.from_env()
    with pytest.raises(ConfigError, match="ALERT_SMTP_STARTTLS: Input should be a valid boolean"):
        SmtpConfig.from_env({"ALERT_EMAIL_TO": "a@b.test", "ALERT_SMTP_STARTTLS": "sometimes"})


def test_the_old_serving_name_variable_is_refused_not_ignored(monkeypatch):
    from sentiment_lib.serving.api import ServeConfig

    monkeypatch.setenv("SENTIMENT_SERVE_REGISTERED_MODEL_NAME", "foo")
    with pytest.raises(ConfigError, match="set SENTIMENT_REGISTERED_MODEL_NAME"):
        ServeConfig.from_env()
