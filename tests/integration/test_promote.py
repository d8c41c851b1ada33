"""``sentiment promote VERSION --reason``: an operator's rollback, recorded on both versions and in events.csv."""

from __future__ import annotations

import pytest
from mlflow.tracking import MlflowClient

from sentiment_lib import reports
from tests.helpers import NAME, new_registry, register_version, run_runner

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def two_versions(tmp_path_factory, small_model):
    """Shared: the refusals change nothing, and the rollback test runs last (file order)."""
    ws = new_registry(tmp_path_factory.mktemp("ws"), small_model)  # version 1, champion
    register_version(small_model)  # version 2, champion now
    return ws


@pytest.mark.parametrize(
    ("version", "reason", "message"),
    [
        ("7", "typo", "'sentiment-classifier' has no version '7'; its versions: 1, 2"),
        ("2", "again", "Version 2 of 'sentiment-classifier' is already @champion"),
        ("1", "  ", "--reason must say why"),
    ],
)
def test_promote_refuses_what_it_cannot_do_and_changes_nothing(two_versions, version, reason, message):
    done = run_runner("promote", version, "--reason", reason, workspace=two_versions)
    assert done.returncode == 2 and message in done.stderr
    assert str(MlflowClient().get_model_version_by_alias(NAME, "champion").version) == "2"
    assert reports.read_events(two_versions / "reports") == []


def test_promote_rolls_back_and_records_why(two_versions):
    done = run_runner("promote", "1", "--reason", "v2 misreads refunds", workspace=two_versions)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Version 1 of sentiment-classifier is now @champion (was version 2)" in done.stdout
    client = MlflowClient()
    assert str(client.get_model_version_by_alias(NAME, "champion").version) == "1"
    assert client.get_model_version(NAME, "1").tags["promotion.reason"] == "operator: v2 misreads refunds"
    assert client.get_model_version(NAME, "2").tags["demoted.reason"] == "operator: v2 misreads refunds"
    events = reports.read_events(two_versions / "reports")
    assert [(e["event"], str(e["model_version"])) for e in events] == [("promoted", "1")]
