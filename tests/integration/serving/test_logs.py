"""--log-format json: every line app.py and runner.py write is one JSON object; requests carry an id."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from sentiment_lib.serving import process
from tests.helpers import child_env, run_runner

pytestmark = pytest.mark.slow


def json_lines(text: str) -> list[dict]:
    lines = [line for line in text.splitlines() if line.strip()]
    return [json.loads(line) for line in lines]  # fails on any line that is not JSON


def test_app_logs_json_with_request_ids(served_workspace, tmp_path):
    port, log_path = process.free_port(), tmp_path / "app.log"
    with log_path.open("w") as log:
        app = process.launch_app(served_workspace, port, ("--log-format", "json"), env=child_env(), output=log)
        try:
            process.wait_until_healthy(app, f"http://127.0.0.1:{port}", timeout=90)
            body = json.dumps({"review": "a fine film"}).encode()
            headers = {"Content-Type": "application/json", "X-Request-ID": "order-42"}
            request = urllib.request.Request(f"http://127.0.0.1:{port}/predict", body, headers)
            with urllib.request.urlopen(request, timeout=30) as answer:
                assert answer.headers["X-Request-ID"] == "order-42"
            bad = {"Content-Type": "application/json", "X-Request-ID": "bad id\u00e9 with spaces"}
            request = urllib.request.Request(f"http://127.0.0.1:{port}/predict", b"{}", bad)
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(request, timeout=30)
            generated = refused.value.headers["X-Request-ID"]
            assert len(generated) == 32 and generated != "bad id"  # not an id: one is made instead
        finally:
            app.terminate()
            app.wait(timeout=30)
    records = json_lines(log_path.read_text())
    assert {"time", "level", "logger", "message"} <= set(records[0])
    access = [r for r in records if r["logger"] == "sentiment.access"]
    served = next(r for r in access if r["request_id"] == "order-42")
    assert served["route"] == "/predict" and served["status"] == 200 and served["model_version"] == "1"
    assert served["method"] == "POST" and served["latency_ms"] > 0
    refused_record = next(r for r in access if r["request_id"] == generated)
    assert refused_record["status"] == 400 and refused_record["model_version"] is None


def test_runner_logs_json_and_text_stays_the_default(tmp_path):
    args = ("batch", "--input_path", str(tmp_path / "in.csv"), "--output_path", str(tmp_path / "out.csv"))
    done = run_runner("--log-format", "json", *args, workspace=tmp_path)
    assert done.returncode == 2
    records = json_lines(done.stderr)  # MLflow's own lines included
    assert any(r["logger"].startswith("mlflow") for r in records)
    error = next(r for r in records if r["level"] == "ERROR")
    assert error["logger"] == "runner" and "has alias @champion" in error["message"]  # a workspace with no model
    plain = run_runner(*args, workspace=tmp_path)
    assert plain.returncode == 2 and "ERROR runner: No version of" in plain.stderr
