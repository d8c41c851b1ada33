"""GET /metrics on a real server: counters move by exactly the traffic sent, gauges read the newest verdict."""

from __future__ import annotations

import json
import os
import shutil
import time

import pytest
from prometheus_client.parser import text_string_to_metric_families

from sentiment_lib.io import write_json_atomic
from sentiment_lib.loop import heartbeat

pytestmark = pytest.mark.slow
JSON = {"Content-Type": "application/json"}


@pytest.fixture(scope="module")
def server(served_workspace, module_live_server):
    return module_live_server(served_workspace, {"SENTIMENT_SERVE_REFRESH_SECONDS": "0"})


def scrape(server) -> dict[tuple[str, tuple], float]:
    """Every sample of a scrape, keyed by (sample name, sorted labels)."""
    status, body, headers = server.request("GET", "/metrics")
    assert status == 200 and headers["Content-Type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            samples[sample.name, tuple(sorted(sample.labels.items()))] = sample.value
    return samples


def value(samples, name: str, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def moved(before, after, name: str, **labels) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


def post(server, path: str, payload) -> int:
    return server.request("POST", path, json.dumps(payload).encode(), JSON)[0]


def test_counters_move_by_the_traffic_sent(server):
    before = scrape(server)
    reviews = ["a wonderful film", "dull and far too long", "fine", "I loved every minute", "awful"]
    assert [post(server, "/predict", {"review": r}) for r in reviews] == [200] * 5
    assert post(server, "/batch_predict", {"reviews": ["great", "terrible", "ok"]}) == 200
    assert post(server, "/predict", {"review": ""}) == 400
    assert post(server, "/predict", {"text": "wrong field"}) == 400
    assert server.request("GET", "/no/such/page")[0] == 404
    after = scrape(server)

    assert moved(before, after, "sentiment_requests_total", route="/predict", status="200") == 5
    assert moved(before, after, "sentiment_requests_total", route="/predict", status="400") == 2
    assert moved(before, after, "sentiment_requests_total", route="/batch_predict", status="200") == 1
    assert moved(before, after, "sentiment_requests_total", route="unmatched", status="404") == 1
    assert moved(before, after, "sentiment_request_seconds_count", route="/predict") == 7
    assert moved(before, after, "sentiment_request_seconds_sum", route="/predict") > 0
    labelled = sum(moved(before, after, "sentiment_predictions_total", label=k) for k in ("positive", "negative"))
    assert labelled == 8  # five single reviews and a batch of three; refused requests label nothing
    assert moved(before, after, "sentiment_prediction_confidence_count") == 8
    assert moved(before, after, "sentiment_prediction_confidence_bucket", le="0.5") == 0  # two classes: >= 0.5
    # the five /predict went through the micro-batcher one at a time; the batch call does not use it
    assert moved(before, after, "sentiment_microbatch_size_sum") == 5
    assert value(after, "sentiment_served_log_write_errors_total") == 0


def test_model_version_and_age(server):
    samples = scrape(server)
    assert value(samples, "sentiment_model_loaded") == 1
    assert value(samples, "sentiment_model_info", version="1", backend="onnx-int8") == 1
    assert 0 < value(samples, "sentiment_model_age_seconds") < 24 * 3600


def verdict(status: str, accuracy: float, auc: float) -> dict:
    check = {"fired": False, "detail": "..."}
    drifted = {"fired": auc > 0.71, "detail": "..."}
    return {
        "status": status,
        "model_version": "1",
        "reasons": [],
        "checks": [
            {**check, "name": "performance", "value": accuracy, "threshold": 0.85},
            {**drifted, "name": "drift", "value": auc, "threshold": 0.71},
            {**check, "name": "estimated_performance", "value": 0.88, "threshold": 0.85},
            {**check, "name": "age", "value": 2.5, "threshold": 30.0},
        ],
    }


def test_loop_gauges_are_the_newest_verdict(server, served_workspace):
    reports = served_workspace / "reports"
    cycles = [reports / "20261129-080000", reports / "20261130-080000"]
    assert not any(key[0].startswith("sentiment_loop_") for key in scrape(server))  # no cycle has run yet
    try:
        write_json_atomic(cycles[1] / "verdict.json", verdict("stale", 0.91, 0.93))
        write_json_atomic(cycles[0] / "verdict.json", verdict("healthy", 0.95, 0.52))  # older, written later
        samples = scrape(server)
    finally:
        for cycle in cycles:
            shutil.rmtree(cycle, ignore_errors=True)
    assert value(samples, "sentiment_loop_verdict", status="stale") == 1
    assert value(samples, "sentiment_loop_verdict", status="healthy") == 0
    assert value(samples, "sentiment_loop_feedback_accuracy") == 0.91
    assert value(samples, "sentiment_loop_feedback_accuracy_threshold") == 0.85
    assert value(samples, "sentiment_loop_drift_auc") == 0.93
    assert value(samples, "sentiment_loop_drift_auc_threshold") == 0.71
    assert value(samples, "sentiment_loop_estimated_accuracy") == 0.88
    assert value(samples, "sentiment_loop_champion_age_days") == 2.5
    assert value(samples, "sentiment_loop_verdict_timestamp_seconds") > 0
    assert value(samples, "sentiment_loop_check_fired", check="drift") == 1
    assert ("sentiment_loop_check_fired", (("check", "performance"),)) in samples
    assert value(samples, "sentiment_loop_check_fired", check="performance") == 0


def test_the_loop_heartbeat_and_the_workspace_disk(server, served_workspace):
    heartbeat_file = served_workspace / "state" / "heartbeat.json"
    assert "sentiment_loop_last_cycle_timestamp_seconds" not in {key[0] for key in scrape(server)}  # no loop yet
    stats = os.statvfs(served_workspace)
    try:
        heartbeat.beat(heartbeat_file, interval_seconds=600, cycles=3, crashed=True)
        samples = scrape(server)
    finally:
        heartbeat_file.unlink()
    assert abs(value(samples, "sentiment_loop_last_cycle_timestamp_seconds") - time.time()) < 60
    assert value(samples, "sentiment_loop_interval_seconds") == 600
    assert value(samples, "sentiment_loop_last_cycle_crashed") == 1
    assert value(samples, "sentiment_workspace_size_bytes") == stats.f_blocks * stats.f_frsize
    free = value(samples, "sentiment_workspace_free_bytes")
    assert 0 < free <= stats.f_blocks * stats.f_frsize
    assert abs(free - stats.f_bavail * stats.f_frsize) < 512 * 1024 * 1024  # other tests write meanwhile
