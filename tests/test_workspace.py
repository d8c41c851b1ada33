"""One source of truth: every path and name comes from the settings, and every reader agrees on them."""

from __future__ import annotations

from sentiment_lib import notebooks
from sentiment_lib.loop.cycle import Cycle
from sentiment_lib.settings import resolve_settings
from sentiment_lib.workspace import Workspace


def test_paths_named_by_settings_are_resolved_under_the_root(tmp_path):
    settings = resolve_settings("smoke", {"feedback_path": "fb/store.csv", "served_log_dir": "/var/served"})
    ws = Workspace(tmp_path, settings)
    assert ws.feedback_store == tmp_path / "fb" / "store.csv"
    assert str(ws.served_log) == "/var/served"  # an absolute path stays as it is
    assert ws.raw_data == tmp_path / "data" / "raw" / "sentiment_analysis.csv"
    assert ws.verdict("c1") == tmp_path / "reports" / "c1" / "verdict.json"
    assert ws.report("c1", "04_staleness.ipynb") == tmp_path / "reports" / "c1" / "04_staleness.html"


def test_names_follow_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("SENTIMENT_REGISTERED_MODEL_NAME", "foo")
    monkeypatch.setenv("SENTIMENT_EXPERIMENT_NAME", "bar")
    ws = Workspace(tmp_path)
    assert (ws.registered_model, ws.experiment) == ("foo", "bar")


def test_a_notebook_builds_the_same_workspace_from_its_parameters(tmp_path, monkeypatch):
    params = notebooks.build_parameters("preprocess", "smoke", {"feedback_path": "x/fb.csv"}, "c1", tmp_path)
    monkeypatch.chdir(tmp_path)  # the runner starts each notebook in its workspace
    ws = Workspace.from_parameters(params)
    assert ws.settings.preset == "smoke" and ws.feedback_store == tmp_path / "x" / "fb.csv"


def test_the_cycle_ingests_into_the_store_the_notebooks_read(tmp_path):
    # -p feedback_path X used to make the notebooks read X while the cycle still ingested into data/feedback/
    overrides = {"feedback_path": "elsewhere/feedback.csv"}
    cycle = Cycle(tmp_path, "smoke", overrides)
    read_by_preprocess = notebooks.build_parameters("preprocess", "smoke", overrides, "c1", tmp_path)["feedback_path"]
    read_by_staleness = notebooks.build_parameters("staleness", "smoke", overrides, "c1", tmp_path)["feedback_path"]
    assert cycle.ws.feedback_store == tmp_path / read_by_preprocess == tmp_path / read_by_staleness
    assert cycle.ws.feedback_store == tmp_path / "elsewhere" / "feedback.csv"
