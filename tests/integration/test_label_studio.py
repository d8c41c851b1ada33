"""The labelling queue's round trip through a real Label Studio server: push, annotate, pull, ingest.

The server runs from its own virtualenv (``make label-studio``: its pins clash with ours), once for the module,
on a free loopback port with its data in a temporary folder and a user made without a prompt. Annotations are
posted to its HTTP API as its labelling screen posts them: a choice submitted, or the task skipped.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import subprocess
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from sentiment_lib.data import feedback
from sentiment_lib.data.schema import normalize_text
from sentiment_lib.labeling import label_studio, queue
from sentiment_lib.labeling.label_studio import INCOMING_COLUMNS, LabelStudioError
from sentiment_lib.serving.process import free_port
from sentiment_lib.settings import LabelStudioSettings
from sentiment_lib.workspace import Workspace
from tests.helpers import REPO, run_runner, wait_until

LS_VENV = REPO / ".venv-label-studio"
LS_COMMAND = LS_VENV / "bin" / "label-studio"
INSTALLED = LS_VENV / ".installed"  # written by `make label-studio` once the install succeeded
ANNOTATOR = "labeller@example.com"
START_TIMEOUT = 240  # the first start migrates a new SQLite database: 20-50 s here, more on a loaded machine

QUEUE = pd.DataFrame(
    {
        "request_id": ["req-pos", "req-neg", "req-skip", "req-odd", "req-late"],
        "Review": [
            "The staff were lovely and the room was spotless",
            "Cold food, rude waiter, never again",
            "It arrived on a Tuesday",
            "Meh. It exists.",
            "Battery lasts two full days, very happy",
        ],
        "why": ["uncertain", "disagreement", "random", "drift: meh", "uncertain"],
        "score": ["0.02", "0.81", "", "0.05", "0.04"],
        "served_at": ["2026-12-01T10:00:00+00:00"] * 5,
        "model_version": ["3"] * 5,
        "champion_sentiment": ["positive", "positive", "negative", "positive", "positive"],
        "champion_confidence": ["0.52", "0.6", "0.7", "0.55", "0.54"],
        "challenger_version": ["", "4", "", "", ""],
        "challenger_sentiment": ["", "negative", "", "", ""],
        "challenger_confidence": ["", "0.9", "", "", ""],
    }
)


class LabelStudioServer:
    """``label-studio start`` on a free loopback port; its user's legacy token is ``token``."""

    def __init__(self, folder: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.token = secrets.token_hex(20)
        self.log = folder / "label-studio.log"
        command = [str(LS_COMMAND), "start", "--no-browser", "--port", str(self.port), "--internal-host", "127.0.0.1"]
        command += ["--data-dir", str(folder / "data"), "--enable-legacy-api-token", "--log-level", "WARNING"]
        with self.log.open("w") as output:
            # a session of its own: stop() ends it and anything it started, and nothing else
            self.process = subprocess.Popen(
                command, cwd=folder, env=self._environment(folder), stdout=output, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True,
            )  # fmt: skip

    def _environment(self, folder: Path) -> dict[str, str]:
        # ours would be read by the server too (it reads LABEL_STUDIO_<NAME>): only what it is given here
        env = {k: v for k, v in os.environ.items() if not k.startswith(("LABEL_STUDIO_", "HEARTEX_"))}
        return {
            **env,
            "HOME": str(folder),  # nothing written to the user's own folders
            "LABEL_STUDIO_USERNAME": ANNOTATOR,
            "LABEL_STUDIO_PASSWORD": secrets.token_hex(12),
            "LABEL_STUDIO_USER_TOKEN": self.token,  # a legacy token; the organisation is made allowing them
            # no calls home: the version check, analytics and error reports
            "LATEST_VERSION_CHECK": "false",
            "COLLECT_ANALYTICS": "false",
            "SENTRY_DSN": "",
            "FRONTEND_SENTRY_DSN": "",
        }

    def healthy(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"label-studio exited with {self.process.returncode}:\n{self.log.read_text()[-4000:]}")
        try:
            with urllib.request.urlopen(self.url + "/health", timeout=2) as response:
                return response.status == 200
        except OSError:
            return False

    def api(self, method: str, path: str, body: dict | None = None) -> dict | list:
        """A call to the HTTP API with the user's token, its JSON answer."""
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Authorization": f"Token {self.token}", "Content-Type": "application/json"}
        request = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read() or b"null")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=20)


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[LabelStudioServer]:
    if not LS_COMMAND.is_file() or not INSTALLED.is_file():
        reason = (
            f"Label Studio is not installed in {LS_VENV} (`make label-studio` could not install it; see its output)"
        )
        print(reason)
        pytest.skip(reason)
    started = LabelStudioServer(tmp_path_factory.mktemp("label-studio"))
    try:
        wait_until(started.healthy, START_TIMEOUT, 0.5, f"Label Studio answering {started.url}/health")
        yield started
    finally:
        started.stop()


def settings_of(server: LabelStudioServer, title: str) -> LabelStudioSettings:
    return LabelStudioSettings(url=server.url, api_key=server.token, project_title=title)


def env_of(server: LabelStudioServer, title: str) -> dict[str, str]:
    return {"LABEL_STUDIO_URL": server.url, "LABEL_STUDIO_API_KEY": server.token, "LABEL_STUDIO_PROJECT_TITLE": title}


def queued_workspace(root: Path) -> Workspace:
    ws = Workspace(root)
    ws.to_label.mkdir(parents=True)
    QUEUE.to_csv(ws.to_label / "20261201T100000Z.csv", index=False)
    return ws


def tasks_by_request(server: LabelStudioServer, project_id: int) -> dict[str, int]:
    tasks = server.api("GET", f"/api/tasks/?project={project_id}&fields=task_only&page_size=100")
    listed = tasks["tasks"] if isinstance(tasks, dict) else tasks
    return {task["data"]["request_id"]: task["id"] for task in listed}


def annotate(server: LabelStudioServer, task_id: int, choice: str | None) -> None:
    """What the labelling screen posts: the choice submitted, or (``None``) the task skipped."""
    result = [{"from_name": "sentiment", "to_name": "text", "type": "choices", "value": {"choices": [choice]}}]
    body = (
        {"result": result, "was_cancelled": False, "lead_time": 2.5}
        if choice
        else {"result": [], "was_cancelled": True}
    )
    server.api("POST", f"/api/tasks/{task_id}/annotations/", body)


def test_the_queue_goes_to_label_studio_and_its_labels_come_back(server, tmp_path):
    title = "round trip"
    ws = queued_workspace(tmp_path / "ws")
    before = datetime.now(UTC) - timedelta(seconds=1)

    pushed = run_runner("label", "push", workspace=ws.root, env=env_of(server, title), timeout=120)
    assert pushed.returncode == 0, pushed.stderr
    assert "created: 5 task(s) added from 1 queue file(s), 0 already there" in pushed.stdout
    assert server.token not in pushed.stdout + pushed.stderr  # a secret is never shown
    again = label_studio.push(ws, settings_of(server, title))
    assert (again.project_created, again.tasks_added, again.already_there) == (False, 0, 5)
    tasks = tasks_by_request(server, again.project_id)
    assert sorted(tasks) == sorted(QUEUE["request_id"])  # pushed twice, each text once

    annotate(server, tasks["req-pos"], "positive")
    annotate(server, tasks["req-neg"], "negative")
    annotate(server, tasks["req-skip"], None)
    annotate(server, tasks["req-odd"], "neutral")  # the API takes a value the interface does not offer

    pulled = run_runner("label", "pull", workspace=ws.root, env=env_of(server, title), timeout=120)
    assert pulled.returncode == 0, pulled.stderr
    assert (
        "2 new label(s)" in pulled.stdout
        and "1 task(s) skipped by their annotator, 1 not annotated yet" in pulled.stdout
    )
    assert "not pulled: " in pulled.stdout and "req-odd" in pulled.stdout and "'neutral'" in pulled.stdout
    files = sorted(ws.incoming.glob("label-studio-*.csv"))
    assert len(files) == 1 and not [p for p in ws.incoming.iterdir() if p.suffix != ".csv"]
    rows = pd.read_csv(files[0], dtype=str, keep_default_na=False)
    assert list(rows.columns) == INCOMING_COLUMNS
    got = rows.set_index("request_id")
    assert got.loc["req-pos", "Sentiment"] == "positive" and got.loc["req-neg", "Sentiment"] == "negative"
    assert sorted(got.index) == ["req-neg", "req-pos"]
    assert got.loc["req-pos", "Review"] == QUEUE.loc[0, "Review"]
    assert set(got["annotator"]) == {ANNOTATOR}
    for moment in got["labelled_at"]:
        assert before <= datetime.fromisoformat(moment) <= datetime.now(UTC) + timedelta(seconds=1)

    nothing = label_studio.pull(ws, settings_of(server, title))
    assert (nothing.rows, nothing.file) == (0, None)
    assert len(nothing.problems) == 1 and "req-odd" in nothing.problems[0]  # reported until fixed, never dropped
    annotate(server, tasks["req-late"], "positive")
    late = label_studio.pull(ws, settings_of(server, title))
    assert late.rows == 1 and late.file is not None
    assert pd.read_csv(late.file, dtype=str)["request_id"].tolist() == ["req-late"]

    report = feedback.ingest_workspace(ws, find_texts=queue.text_finder(ws.to_label))
    assert report.quarantined == {} and report.rows_added == 3
    store = feedback.read_store(ws.feedback_store).set_index("request_id")
    assert sorted(store.index) == ["req-late", "req-neg", "req-pos"]
    assert store.loc["req-neg", "Review"] == normalize_text(QUEUE.loc[1, "Review"])
    assert store.loc["req-late", "Sentiment"] == "positive" and store.loc["req-late", "annotator"] == ANNOTATOR


def test_a_wrong_key_and_a_missing_project_are_said_plainly(server, tmp_path):
    ws = queued_workspace(tmp_path / "ws")
    wrong = LabelStudioSettings(url=server.url, api_key="not-" + server.token, project_title="never pushed")
    with pytest.raises(LabelStudioError, match="refused the API key") as refused:
        label_studio.push(ws, wrong)
    assert wrong.api_key not in str(refused.value)
    with pytest.raises(LabelStudioError, match=re.escape("no project 'never pushed' yet: run `runner.py label push`")):
        label_studio.pull(ws, settings_of(server, "never pushed"))
    assert not ws.incoming.exists() and not ws.label_studio_state.exists()
