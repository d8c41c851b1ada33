"""A model loaded from a tracking server leaves nothing behind: MLflow downloads each load into a temporary
folder it never removes, so a server swapping versions or a runner checking its champion every cycle filled
the disk by a model's size per load (found when CI ran out of space). A local store is read in place."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from sentiment_lib.serving.process import free_port
from sentiment_lib.tracking.server import start_tracking_server
from tests.helpers import NAME, REPO, child_env

REGISTER = """
import sys
from pathlib import Path
from tests.helpers import new_registry
new_registry(Path(sys.argv[1]), Path(sys.argv[2]))
"""
# Three loads in one process, as a server swapping versions does. MLflow itself keeps the last model loaded
# from code (mlflow.models.model.__mlflow_model__), so one copy may stay until the process ends.
THREE_LOADS = f"""
import gc, sys
from tests.integration.test_model_downloads import downloads
from sentiment_lib.tracking import registry
predictors = [registry.load_served_model({NAME!r}).predictor for _ in range(3)]
gc.collect()
print(len(downloads(sys.argv[1])), predictors[-1].predict(["a warm and moving film"]).labels[0])
"""


def downloads(folder) -> list[Path]:
    """The copies of a logged model in ``folder`` (other libraries keep their own files there too)."""
    return list(Path(folder).glob("*/MLmodel"))


def python(script: str, *args: str, **env: str) -> str:
    done = subprocess.run([sys.executable, "-c", script, *args], cwd=REPO, env=child_env(**env),
                          capture_output=True, text=True, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


@pytest.fixture(scope="module")
def server_with_a_champion(tmp_path_factory, small_model):
    """A tracking server (SQLite, proxied artifacts) whose registry has small_model @champion."""
    server = start_tracking_server(tmp_path_factory.mktemp("server"), free_port(), env=child_env())
    try:
        python(REGISTER, str(tmp_path_factory.mktemp("ws")), str(small_model), MLFLOW_TRACKING_URI=server.url)
        yield server.url
    finally:
        server.stop()


def test_loading_from_a_server_again_and_again_leaves_no_copy_behind(server_with_a_champion, tmp_path):
    printed = python(THREE_LOADS, str(tmp_path), TMPDIR=str(tmp_path), MLFLOW_TRACKING_URI=server_with_a_champion)
    copies_while_running, label = printed.split()
    assert int(copies_while_running) <= 1
    assert label in {"positive", "negative"}  # the predictor needs none of the files once loaded
    assert downloads(tmp_path) == []


def test_a_local_store_is_read_in_place(served_workspace, tmp_path):
    script = THREE_LOADS.replace(
        "from sentiment_lib.tracking import registry",
        "from sentiment_lib.tracking import registry, runs\nruns.configure_client(sys.argv[2])",
    )
    printed = python(script, str(tmp_path), str(served_workspace), TMPDIR=str(tmp_path))
    assert printed.split()[0] == "0"
