"""Fault injection on real processes: a cycle killed with SIGKILL, writes that fail for lack of space (a real
EFBIG from ``prlimit --fsize``), an SMTP server that never answers. Each case checks what an operator would
check afterwards: rows, files, emails, aliases."""

from __future__ import annotations

import email
import email.policy
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

from sentiment_lib.data import feedback
from sentiment_lib.data.dataset import validate_reviews
from sentiment_lib.serving import process
from sentiment_lib.settings import CHAMPION
from sentiment_lib.tracking import registry, runs
from tests.helpers import NAME, REPO, as_json, child_env, run_runner, sst2, wait_until, write_sst2_sample

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("prlimit") is None, reason="prlimit (util-linux) is needed"),
]
SMOKE = ("--preset", "smoke", "-p", "sst2_test_path", "none")
# a first model as cheap as a real one gets: the faults are in the pipeline's plumbing, not in the model
TINY = (*SMOKE, "-p", "max_train_samples", "96", "-p", "num_epochs", "1", "-p", "max_eval_samples", "50")
RUNNER = str(REPO / "runner.py")


def feedback_files(incoming: Path, files: int, rows: int, seed: int) -> pd.DataFrame:
    """``files`` incoming CSVs of real SST-2 dev rows, overlapping (duplicates to skip); returns every row."""
    dev = sst2("dev").sample(files * rows, random_state=seed)[["Review", "Sentiment"]]
    incoming.mkdir(parents=True, exist_ok=True)
    parts = [dev.iloc[i * rows : (i + 1) * rows + 5] for i in range(files)]  # 5 rows shared with the next file
    for i, part in enumerate(parts):
        part.to_csv(incoming / f"feedback-{i}.csv", index=False)
    return pd.concat(parts)


def unique_texts(rows: pd.DataFrame) -> set[str]:
    clean, _ = validate_reviews(rows, source="expected", require_both_classes=False)
    return set(clean["Review"])


def outbox(ws: Path) -> list[email.message.EmailMessage]:
    return [email.message_from_bytes(p.read_bytes(), policy=email.policy.default) for p in sorted(ws.glob("outbox/*"))]


def kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL the runner and everything it started (the notebook kernel too), as a power cut would."""
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


def wait_for(pattern: str, ws: Path, proc: subprocess.Popen, timeout: float = 600) -> bool:
    """Until a file matches ``pattern`` (True) or the cycle ends before one does (False)."""
    try:
        wait_until(
            lambda: any(ws.glob(pattern)) or proc.poll() is not None,
            timeout,
            0.2,
            f"the cycle neither wrote {pattern} nor ended",
        )
    except AssertionError:
        kill_group(proc)  # its runner and kernel would run on after the test
        raise
    return any(ws.glob(pattern))


def assert_nothing_lost_and_no_duplicates(ws: Path, expected: set[str]) -> None:
    """Every row given is in the store or still waiting in ``incoming/``; the store holds each text once."""
    store = feedback.read_store(ws / "data" / "feedback" / "feedback.csv")
    assert not store["Review"].duplicated().any()
    waiting = [pd.read_csv(p, dtype=str, keep_default_na=False) for p in (ws / "data" / "incoming").glob("*.csv")]
    still_waiting = unique_texts(pd.concat(waiting)) if waiting else set()
    assert expected <= set(store["Review"]) | still_waiting


def test_a_cycle_killed_at_random_points_loses_nothing_and_the_next_one_recovers(tmp_path):
    ws = tmp_path / "ws"
    write_sst2_sample(ws, rows=400, test_rows=10)
    expected = unique_texts(feedback_files(ws / "data" / "incoming", files=3, rows=40, seed=3))
    rng = random.Random(12)
    # where each kill lands: a moment after the start (ingestion), in training, in evaluation
    # (at most 5 s into 02_train: on an idle machine the tiny training and evaluation end within 13 s, and the
    # next cycle, with a champion and no new rows, would never reach 03_evaluate)
    kill_points = [(None, rng.uniform(1, 6)), ("reports/*/02_train.ipynb", rng.uniform(0, 5))]
    kill_points.append(("reports/*/03_evaluate.ipynb", rng.uniform(0, 8)))
    for n, (marker, delay) in enumerate(kill_points):
        log = tmp_path / f"cycle-{n}.log"
        with log.open("w") as output:
            cycle = subprocess.Popen(
                [sys.executable, RUNNER, "once", *TINY, "--workspace", str(ws)],
                cwd=ws,
                env=child_env(),
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        reached = marker is None or wait_for(marker, ws, cycle)
        time.sleep(delay)
        if cycle.poll() is None:
            kill_group(cycle)
        assert reached, f"the cycle ended (status {cycle.returncode}) before {marker}:\n{log.read_text()[-3000:]}"
        assert_nothing_lost_and_no_duplicates(ws, expected)
    done = run_runner("once", *TINY, workspace=ws)
    assert done.returncode == 0, done.stderr[-3000:]
    store = feedback.read_store(ws / "data" / "feedback" / "feedback.csv")
    assert set(store["Review"]) == expected and len(store) == len(expected)
    runs.configure_client(ws)
    champion = registry.version_for_alias(NAME, CHAMPION)
    assert champion is not None
    predictor = registry.load_served_model(NAME, version=str(champion.version)).predictor
    assert predictor.predict(["a lovely, moving film"]).labels[0] in {"positive", "negative"}
    report = run_runner("report", workspace=ws)
    assert report.returncode == 0 and (ws / "reports" / "index.html").is_file()


def limited(fsize: int, *command: str) -> list[str]:
    """``command`` under a file-size limit: writing past ``fsize`` bytes fails with a real EFBIG."""
    return ["prlimit", f"--fsize={fsize}", *command]


def run_runner_limited(fsize: int, *args: str, workspace: Path) -> subprocess.CompletedProcess:
    """:func:`run_runner` under a file-size limit of ``fsize`` bytes."""
    command = limited(fsize, sys.executable, RUNNER, *args, "--workspace", str(workspace))
    return subprocess.run(command, cwd=workspace, env=child_env(), capture_output=True, text=True, timeout=300)


def test_a_feedback_append_that_fails_for_lack_of_space_loses_nothing(tmp_path):
    ws = tmp_path
    incoming = ws / "data" / "incoming"
    first = feedback_files(incoming, files=1, rows=30, seed=5)
    assert run_runner("ingest", workspace=ws).returncode == 0
    store = ws / "data" / "feedback" / "feedback.csv"
    size = store.stat().st_size
    second = sst2("dev").sample(200, random_state=8)[["Review", "Sentiment"]]
    second.to_csv(incoming / "big.csv", index=False)
    full = run_runner_limited(size + 300, "ingest", workspace=ws)
    assert full.returncode == 2 and "File too large" in full.stderr, full.stderr[-2000:]
    assert (incoming / "big.csv").exists()  # not archived: its rows are not all stored
    assert run_runner("ingest", workspace=ws).returncode == 0
    rows = feedback.read_store(store)
    assert not rows["Review"].duplicated().any()
    assert set(rows["Review"]) == unique_texts(pd.concat([first, second]))


def test_a_report_write_that_fails_keeps_the_old_index_whole(tmp_path):
    ws = tmp_path
    assert run_runner("report", workspace=ws).returncode == 0
    index = ws / "reports" / "index.html"
    before = index.read_bytes()
    (ws / "reports" / "big-cycle").mkdir()
    (ws / "reports" / "big-cycle" / "cycle.json").write_text(
        json.dumps({"cycle": "big-cycle", "started": "2026-01-01T00:00:00", "actions": ["x" * 200_000]})
    )
    full = run_runner_limited(len(before) + 1000, "report", workspace=ws)
    assert full.returncode == 2 and "File too large" in full.stderr, full.stderr[-2000:]
    assert index.read_bytes() == before  # the old page, whole
    assert [p.name for p in (ws / "reports").iterdir() if p.name.endswith(".tmp")] == []


def test_a_served_log_that_fills_up_never_fails_a_prediction(served_workspace, tmp_path):
    port = process.free_port()
    log_dir = tmp_path / "served"
    env = child_env(SENTIMENT_SERVED_LOG_DIR=str(log_dir), SENTIMENT_SERVE_REFRESH_SECONDS="0")
    app = [sys.executable, str(REPO / "app.py"), "--port", str(port), "--workspace", str(served_workspace)]
    server = subprocess.Popen(limited(4000, *app), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}"
        process.wait_until_healthy(server, url, timeout=120)
        codes = [_post(url, "/predict", {"review": f"review number {i} of a long afternoon"})[0] for i in range(60)]
        assert codes == [200] * 60
        health = as_json(_get(url, "/health"))
        assert health["status"] == "ok" and health["served_log_failures"] > 0
        assert "File too large" in health["served_log_last_failure"]
        metrics = _get(url, "/metrics").decode()  # the same count, for Prometheus
        assert f"sentiment_served_log_write_errors_total {float(health['served_log_failures'])}" in metrics
        (log_file,) = log_dir.glob("served-*.jsonl")
        assert log_file.stat().st_size <= 4000
        assert all(line.endswith("}") for line in log_file.read_text().splitlines()[:-1])
    finally:
        server.terminate()
        server.wait(timeout=20)


def _post(url: str, path: str, payload: dict) -> tuple[int, bytes]:
    import urllib.request

    request = urllib.request.Request(
        url + path, json.dumps(payload).encode(), {"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status, response.read()


def _get(url: str, path: str) -> bytes:
    import urllib.request

    with urllib.request.urlopen(url + path, timeout=30) as response:
        return response.read()


class SilentSmtp:
    """A TCP server that accepts connections and never says a word: a hung mail relay."""

    def __init__(self):
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                self.held.append(self.sock.accept()[0])
            except OSError:
                return

    def close(self) -> None:
        self.sock.close()
        for conn in self.held:
            conn.close()


def descendants(pid: int) -> list[int]:
    """Every process below ``pid``, read from /proc."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue  # a process that ended meanwhile
    found, frontier = [], [pid]
    while frontier:
        kids = [child for child, parent in parents.items() if parent in frontier]
        found += kids
        frontier = kids
    return found


def find_kernel(pid: int) -> int | None:
    """The notebook kernel among the processes below ``pid``, if one runs."""
    for child in descendants(pid):
        try:
            if b"ipykernel_launcher" in Path(f"/proc/{child}/cmdline").read_bytes():
                return child
        except OSError:
            continue  # a process that ended meanwhile
    return None


def kernel_of(pid: int, timeout: float = 120) -> int:
    return wait_until(lambda: find_kernel(pid), timeout, 0.1, "no notebook kernel started")


def wait_for_a_running_cell(workspace: Path, notebook: str, timeout: float = 120) -> None:
    """Until papermill marks a code cell of ``notebook`` (the executed copy under reports/) running: it saves the
    copy as each cell starts, and the first code cell (imports) always has cells after it."""

    def a_cell_runs() -> bool:
        for path in workspace.glob(f"reports/*/{notebook}"):
            try:
                cells = json.loads(path.read_text())["cells"]
            except (OSError, ValueError, KeyError):
                continue  # being written
            if any(c.get("metadata", {}).get("papermill", {}).get("status") == "running" for c in cells):
                return True
        return False

    wait_until(a_cell_runs, timeout, 0.05, f"no cell of {notebook} started running")


def test_a_kernel_killed_mid_cell_fails_the_step_with_an_alert_and_the_next_run_recovers(tmp_path):
    write_sst2_sample(tmp_path, rows=300, test_rows=10)
    command = [sys.executable, RUNNER, "once", *SMOKE, "-p", "step_retries", "0", "--workspace", str(tmp_path)]
    cycle = subprocess.Popen(command, cwd=tmp_path, env=child_env(), stdout=subprocess.PIPE, text=True)
    kernel = kernel_of(cycle.pid)
    wait_for_a_running_cell(tmp_path, "01_preprocess.ipynb")  # a sleep raced a fast machine: the step was done
    os.kill(kernel, signal.SIGKILL)
    assert cycle.wait(timeout=300) == 1
    (status_file,) = tmp_path.glob("reports/*/status.json")
    status = json.loads(status_file.read_text())
    assert [(s["step"], s["status"]) for s in status] == [("preprocess", "failed")]
    assert "the kernel died" in status[0]["error"]
    (alert,) = outbox(tmp_path)
    assert alert["X-Alert-Kind"] == "step_failed" and "01_preprocess" in alert["Subject"]
    assert (status_file.parent / Path(status[0]["notebook"]).name).is_file()  # kept for inspection
    again = run_runner("preprocess", "--preset", "smoke", workspace=tmp_path)
    assert again.returncode == 0, again.stderr[-2000:]


def test_an_smtp_server_that_never_answers_delays_the_cycle_boundedly_and_keeps_the_alerts(tmp_path):
    relay = SilentSmtp()
    incoming = tmp_path / "data" / "incoming"
    incoming.mkdir(parents=True)
    (incoming / "bad.csv").write_text("Review,Sentiment\nmeh,neutral\n")
    env = {
        "ALERT_SMTP_HOST": "127.0.0.1",
        "ALERT_SMTP_PORT": str(relay.port),
        "ALERT_SMTP_STARTTLS": "false",
        "ALERT_EMAIL_TO": "ops@example.test",
        "ALERT_SMTP_TIMEOUT_SECONDS": "1",
    }
    # no training data: the first training fails at once, which is one more alert to send
    args = ("once", "--preset", "smoke", "-p", "step_retries", "0", "-p", "raw_path", "missing.csv")
    started = time.monotonic()
    try:
        done = run_runner(*args, workspace=tmp_path, env=env, timeout=300)
    finally:
        relay.close()
    # two alerts, each 3 attempts of 1 s with 2 s + 4 s between: about 18 s of waiting, plus the step
    assert time.monotonic() - started < 150
    assert done.returncode == 1, done.stderr[-2000:]
    assert "quarantine: Incoming file bad.csv quarantined (failed)" in done.stdout
    assert "step_failed: Pipeline step 01_preprocess failed (failed)" in done.stdout
    assert sorted(m["X-Alert-Kind"] for m in outbox(tmp_path)) == ["quarantine", "step_failed"]


def test_a_batch_output_that_fails_for_lack_of_space_resumes_byte_identical(served_workspace, tmp_path):
    source = tmp_path / "reviews.csv"
    sst2("train").sample(4000, random_state=2)[["Review"]].to_csv(source, index=False)

    def batch(output: Path, *extra: str) -> list[str]:
        files = ("--input_path", str(source), "--output_path", str(output), "--workspace", str(served_workspace))
        return [sys.executable, RUNNER, "batch", *files, "--chunk-rows", "200", "--no-progress", *extra]

    reference = tmp_path / "reference.csv"
    assert subprocess.run(batch(reference), env=child_env(), timeout=600).returncode == 0
    output = tmp_path / "out.csv"
    running = subprocess.Popen(batch(output), env=child_env(), stderr=subprocess.PIPE, text=True)
    partial = tmp_path / "out.csv.partial"
    wait_until(
        lambda: (partial.exists() and partial.stat().st_size > 0) or running.poll() is not None,
        600,  # the commands' own timeout; the loop had none
        0.05,
        "the batch command neither wrote its first chunk nor ended",
    )
    # the model is loaded and the first chunk written: from now on the disk is "full" a little further on
    limit = partial.stat().st_size + 30_000
    subprocess.run(["prlimit", "--pid", str(running.pid), f"--fsize={limit}"], check=True)
    assert running.wait(timeout=600) == 2
    assert "File too large" in running.stderr.read()
    assert not output.exists()  # never a half file at the output path
    again = subprocess.run(batch(output), env=child_env(), timeout=600, capture_output=True, text=True)
    assert again.returncode == 2 and "pass --resume" in again.stderr  # a rerun never overwrites the partial
    resumed = subprocess.run(batch(output, "--resume"), env=child_env(), timeout=600, capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "resumed after row" in resumed.stdout
    assert output.read_bytes() == reference.read_bytes()


def test_each_bad_incoming_file_is_quarantined_with_an_alert_and_the_good_one_ingested(tmp_path):
    incoming = tmp_path / "data" / "incoming"
    incoming.mkdir(parents=True)
    (incoming / "a folder.csv").mkdir()
    (incoming / "vanished.csv").symlink_to(tmp_path / "gone.csv")  # listed, not there when read
    os.mkfifo(incoming / "pipe.csv")  # a reader that opened it would wait forever
    (incoming / "binary.csv").write_bytes(random.Random(3).randbytes(4096))
    (incoming / "new\nline.csv").write_text("Review,Sentiment\nmeh,neutral\n")
    (incoming / "good.csv").write_text("Review,Sentiment\nall fine here,positive\n")
    # no training data: the first training fails at once instead of taking minutes
    args = ("once", "--preset", "smoke", "-p", "step_retries", "0", "-p", "raw_path", "missing.csv")
    done = run_runner(*args, workspace=tmp_path, timeout=300)
    assert done.returncode == 1, done.stderr[-2000:]
    messages = {m["X-Alert-Kind"]: m for m in outbox(tmp_path)}
    assert sorted(m["X-Alert-Kind"] for m in outbox(tmp_path)) == ["quarantine", "step_failed"]  # one for all five
    listed = messages["quarantine"].get_content()
    assert messages["quarantine"]["Subject"].endswith("5 incoming files quarantined")
    assert all(name in listed for name in ("a folder.csv", "binary.csv", "line.csv", "pipe.csv", "vanished.csv"))
    assert sorted(p.name for p in (tmp_path / "data" / "quarantine").iterdir() if not p.name.endswith(".txt")) == [
        "a folder.csv",
        "binary.csv",
        "new\nline.csv",
        "pipe.csv",
        "vanished.csv",
    ]
    assert list(incoming.iterdir()) == []
    store = feedback.read_store(tmp_path / "data" / "feedback" / "feedback.csv")
    assert store["Review"].tolist() == ["all fine here"]
