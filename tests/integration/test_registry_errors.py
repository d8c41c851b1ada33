"""A registry that cannot be read is an error, never "no champion": no ungated promotion, no "first" model."""

from __future__ import annotations

import email
import json
from types import SimpleNamespace

import pytest
from mlflow import MlflowClient

from sentiment_lib.errors import RegistryUnavailableError
from sentiment_lib.loop.cycle import Cycle
from sentiment_lib.serving.process import free_port
from sentiment_lib.settings import CHAMPION
from sentiment_lib.tracking import gate, registry, runs


@pytest.fixture
def corrupt_store(tmp_path):
    (tmp_path / "mlflow.db").write_bytes(b"this is not a SQLite database " * 100)
    runs.configure_client(tmp_path)
    return tmp_path


def test_a_missing_model_or_alias_means_none(tmp_path):
    runs.configure_client(tmp_path)
    assert registry.version_for_alias("nothing-registered", CHAMPION) is None
    MlflowClient().create_registered_model("m")
    assert registry.version_for_alias("m", CHAMPION) is None


def test_a_corrupt_store_is_an_error(corrupt_store):
    with pytest.raises(RegistryUnavailableError, match=r"registry cannot be read.*not a database"):
        registry.version_for_alias("m", CHAMPION)


def test_a_refused_connection_is_an_error(monkeypatch):
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{free_port()}")
    runs.configure_client(".")
    with pytest.raises(RegistryUnavailableError, match="registry cannot be read"):
        registry.version_for_alias("m", CHAMPION)


def test_the_gate_never_promotes_when_the_registry_cannot_be_read(corrupt_store):
    challenger = SimpleNamespace(version="2")
    with pytest.raises(RegistryUnavailableError):
        gate.apply_policy("m", challenger, None, None, policy="gate")


def test_the_cycle_alerts_and_trains_nothing(corrupt_store, monkeypatch):
    monkeypatch.delenv("ALERT_EMAIL_TO", raising=False)
    summary = Cycle(corrupt_store, "smoke", {}).run()
    assert summary.failed_step == "registry"
    assert not any("training the first model" in action for action in summary.actions)
    assert not (corrupt_store / "reports" / summary.cycle / "status.json").exists()  # no notebook ran
    (sent,) = list((corrupt_store / "outbox").glob("*.eml"))
    message = email.message_from_bytes(sent.read_bytes())
    assert message["X-Alert-Kind"] == "registry_unavailable"
    assert "neither trained nor promoted" in message.get_payload(decode=True).decode()
    recorded = json.loads((corrupt_store / "reports" / summary.cycle / "cycle.json").read_text())
    assert recorded["failed_step"] == "registry"


def test_the_champion_a_challenger_faces_is_loaded_once(tmp_path, monkeypatch):
    runs.configure_client(tmp_path)
    client = MlflowClient()
    client.create_registered_model("m")
    for _ in range(2):
        client.create_model_version("m", source=str(tmp_path / "model"))
    assert registry.champion_against("m", "2") is None  # no champion yet
    client.set_registered_model_alias("m", CHAMPION, "1")
    assert registry.champion_against("m", "1") is None  # the challenger is the champion
    champion = registry.champion_against("m", "2")
    assert champion.version == "1"
    loads = []
    monkeypatch.setattr(
        registry,
        "load_served_model",
        lambda name, version: loads.append(version) or SimpleNamespace(predictor=object()),
    )
    assert champion.predictor is champion.predictor  # the suite's and the gate's copy
    assert loads == ["1"]
