"""What an operator relies on when nobody watches: one writer at a time, and no cycle that dies silently.

Real ``runner.py`` processes on a real workspace; alerts land in the outbox (no SMTP configured).
"""

from __future__ import annotations

import email
import email.policy
import json
import socket
import subprocess
import sys
import time

import pytest

from sentiment_lib.locking import workspace_lock
from sentiment_lib.workspace import Workspace
from tests.helpers import REPO, child_env, run_runner

pytestmark = pytest.mark.slow


def outbox(ws) -> list[email.message.Message]:
    return [
        email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
        for p in sorted((ws / "outbox").glob("*.eml"))
    ]


@pytest.mark.parametrize(
    "command",
    [("ingest",), ("report",), ("train", "--preset", "smoke"), ("pipeline", "--preset", "smoke"), ("once",)],
    ids=lambda c: c[0],
)
def test_a_writing_command_exits_with_a_message_while_another_holds_the_workspace(tmp_path, command):
    with workspace_lock(Workspace(tmp_path), "runner.py loop"):
        done = run_runner(*command, workspace=tmp_path)
    assert done.returncode == 2, done.stderr[-2000:]
    assert "is busy: `runner.py loop` (pid" in done.stderr and "pass --wait to queue behind it" in done.stderr
    assert not (tmp_path / "reports").exists() and not (tmp_path / "data").exists()  # nothing ran


def test_with_wait_a_command_queues_behind_the_holder(tmp_path):
    incoming = tmp_path / "data" / "incoming"
    incoming.mkdir(parents=True)
    (incoming / "a.csv").write_text("Review,Sentiment\nqueued politely,positive\n")
    command = [sys.executable, str(REPO / "runner.py"), "ingest", "--wait", "--workspace", str(tmp_path)]
    with workspace_lock(Workspace(tmp_path), "runner.py train"):
        waiting = subprocess.Popen(command, cwd=tmp_path, env=child_env(), stdout=subprocess.PIPE, text=True)
        time.sleep(8)
        assert waiting.poll() is None and (incoming / "a.csv").exists()  # still waiting, nothing ingested
    assert waiting.wait(timeout=120) == 0
    assert "ingested 1 file(s): 1 new rows" in waiting.stdout.read()


def test_an_unexpected_error_in_a_cycle_is_alerted_recorded_and_the_loop_goes_on(tmp_path):
    incoming = tmp_path / "data" / "incoming"
    incoming.mkdir(parents=True)
    (incoming / "bad\nname.csv").write_text("Review,Sentiment\nmeh,neutral\n")  # a newline in an alert subject
    (incoming / "good.csv").write_text("Review,Sentiment\nfine,positive\n")
    (tmp_path / "store-is-a-folder").mkdir()  # the feedback store cannot be written: an OSError, not ours
    store = ("-p", "feedback_path", "store-is-a-folder")
    done = run_runner("once", "--preset", "smoke", *store, workspace=tmp_path)
    assert done.returncode == 1, done.stderr[-2000:]
    kinds = [m["X-Alert-Kind"] for m in outbox(tmp_path)]
    assert kinds == ["quarantine", "cycle_failed"]
    quarantined, failed = outbox(tmp_path)
    assert "\n" not in quarantined["Subject"] and "bad" in quarantined["Subject"]
    assert "IsADirectoryError" in failed["Subject"] and "IsADirectoryError" in failed.get_content()
    assert "Report: " in failed.get_content()
    (cycle,) = [json.loads(p.read_text()) for p in (tmp_path / "reports").glob("*/cycle.json")]
    assert cycle["failed_step"] == "cycle" and "IsADirectoryError" in " ".join(cycle["actions"])
    assert cycle["cycle"] in (tmp_path / "reports" / "index.html").read_text()
    assert (incoming / "good.csv").exists()  # not lost: it waits for a store that can be written
    # the loop keeps going through the same failure, cycle after cycle
    loop = run_runner("loop", "--preset", "smoke", *store, "--every", "0.02", "--max-cycles", "2", workspace=tmp_path)
    assert loop.returncode == 0, loop.stderr[-2000:]
    assert "Loop stopped after 2 cycle(s)" in loop.stderr
    assert len(list((tmp_path / "reports").glob("*/cycle.json"))) == 3


def failing_cycle_with_bad_files(tmp_path, files: int) -> tuple[str, ...]:
    """``files`` bad incoming files, and a feedback store that cannot be written: a cycle that quarantines
    them and then fails at once, alerting twice, without training anything."""
    incoming = tmp_path / "data" / "incoming"
    incoming.mkdir(parents=True)
    for i in range(files):
        (incoming / f"bad-{i}.csv").write_text("Review,Sentiment\nmeh,neutral\n")
    (incoming / "good.csv").write_text("Review,Sentiment\nfine,positive\n")  # its store write fails the cycle
    (tmp_path / "store-is-a-folder").mkdir()
    return ("once", "--preset", "smoke", "-p", "feedback_path", "store-is-a-folder")


def test_every_file_quarantined_in_a_cycle_is_in_one_alert(tmp_path):
    done = run_runner(*failing_cycle_with_bad_files(tmp_path, 5), workspace=tmp_path)
    assert done.returncode == 1, done.stderr[-2000:]
    messages = outbox(tmp_path)
    assert [m["X-Alert-Kind"] for m in messages] == ["quarantine", "cycle_failed"]
    assert messages[0]["Subject"].endswith("5 incoming files quarantined")
    body = messages[0].get_content()
    for i in range(5):
        assert f"- bad-{i}.csv: " in body and str(tmp_path / "data" / "quarantine" / f"bad-{i}.csv") in body
    assert body.count("unknown labels ['neutral']") == 5


def test_a_cycle_spends_at_most_its_alert_budget_on_unreachable_channels(tmp_path):
    """Email to a server that accepts and never answers: unbounded, two alerts would take 2 x (3 x 5 s + 6 s
    of back-off); the cycle stops sending at its budget and keeps the rest in the outbox."""
    with socket.create_server(("127.0.0.1", 0)) as silent:
        smtp = {
            "ALERT_EMAIL_TO": "ops@example.test",
            "ALERT_SMTP_HOST": "localhost",  # looked up within the budget too
            "ALERT_SMTP_PORT": str(silent.getsockname()[1]),
            "ALERT_SMTP_STARTTLS": "false",
            "ALERT_SMTP_TIMEOUT_SECONDS": "5",
        }
        budget = ("-p", "alert_budget_seconds", "2")
        started = time.monotonic()
        without_email = run_runner(*failing_cycle_with_bad_files(tmp_path / "a", 3), *budget, workspace=tmp_path / "a")
        baseline = time.monotonic() - started
        started = time.monotonic()
        done = run_runner(*failing_cycle_with_bad_files(tmp_path, 3), *budget, workspace=tmp_path, env=smtp)
        elapsed = time.monotonic() - started
    assert without_email.returncode == 1 and done.returncode == 1, done.stderr[-2000:]
    assert elapsed - baseline < 2 + 4.0, (elapsed, baseline)  # the budget, with slack for a slow start
    assert "alert_budget_seconds" in done.stderr  # the second alert was not tried
    assert sorted(m["X-Alert-Kind"] for m in outbox(tmp_path)) == ["cycle_failed", "quarantine"]  # none lost
