"""The simulated clock of a replay and what it dates, the served replay's bookkeeping, and the label-free
estimate's interval."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pandas as pd
import pytest

from sentiment_lib.alerting.sender import AlertSender
from sentiment_lib.alerting.transport import Alert
from sentiment_lib.clock import SimulatedClock, as_text, parse_moment
from sentiment_lib.errors import ConfigError, DataValidationError, ServingUnavailableError
from sentiment_lib.experiments import adaptation, adaptation_report
from sentiment_lib.loop.cycle import LoopState
from sentiment_lib.loop.replay import Replay
from sentiment_lib.monitoring.checks import staleness
from sentiment_lib.serving.client import ApiClient
from sentiment_lib.serving.process import free_port
from tests.helpers import canonical_stream

START = datetime(2026, 1, 5, 8, tzinfo=UTC)


def test_the_simulated_clock_moves_only_when_advanced_and_moments_round_trip():
    clock = SimulatedClock(START, timedelta(hours=24))
    assert clock.now() == clock.now() == START
    assert clock.advance() == START + timedelta(days=1) == clock.now()
    assert parse_moment(as_text(clock.now())) == START + timedelta(days=1)
    assert parse_moment("2026-01-05T08:00:00") == START  # naive means UTC
    assert abs(parse_moment("") - datetime.now(UTC)) < timedelta(seconds=5)
    with pytest.raises(ConfigError, match="now must be an ISO 8601 time"):
        parse_moment("yesterday")


def test_guardrails_and_cooldowns_ignore_records_from_a_simulated_future(tmp_path):
    # a replay ran ahead of the wall clock: its records must not block the real loop for days
    state = LoopState(retrains=[as_text(START - timedelta(hours=2)), as_text(START + timedelta(days=9))])
    assert state.retrains_between(START - timedelta(days=1), START) == 1
    sender = AlertSender(tmp_path / "outbox", tmp_path / "alerts.json", cooldown=timedelta(hours=6))
    alert = Alert("stale", "Model v1 stale", "drift", "stale:v1")
    assert sender.send(alert, START + timedelta(days=9)) == "outbox"
    assert sender.send(alert, START) == "outbox"  # the future record does not silence it
    assert sender.send(alert, START + timedelta(hours=1)) == "suppressed"


def test_a_served_replay_labels_each_batch_one_cycle_after_serving_it(tmp_path):
    source = canonical_stream(tmp_path, 25)
    replay = Replay(source, tmp_path / "in", tmp_path / "replay.json", per_cycle=10, final_holdout=5)
    assert len(replay.stream) == 20 and replay.holdout["Review"].tolist() == [f"text {i}" for i in range(20, 25)]
    assert replay.drop_labels_of_served() is None  # day 1: nothing served yet
    assert replay.next_to_serve()["Review"].iloc[0] == "text 0"
    replay.mark_served(10)
    assert (replay.position, replay.served, replay.remaining) == (0, 10, 10)
    again = Replay(source, tmp_path / "in", tmp_path / "replay.json", per_cycle=10, final_holdout=5)  # a restart
    labels = again.drop_labels_of_served()  # day 2: yesterday's labels arrive
    assert pd.read_csv(labels)["Review"].tolist() == [f"text {i}" for i in range(10)]
    assert again.next_to_serve()["Review"].tolist() == [f"text {i}" for i in range(10, 20)]
    again.mark_served(10)
    assert again.next_to_serve().empty and again.remaining == 0
    assert again.first_champion("3") == "3" and again.first_champion("4") == "3"
    assert again.clock_start(START) == START
    again.save_clock(START + timedelta(days=2))
    assert replay.clock_start(START) == START + timedelta(days=2)


def test_a_replay_continues_only_with_the_options_it_started_with(tmp_path):
    source, state = canonical_stream(tmp_path, 25), tmp_path / "replay.json"
    plain = Replay(source, tmp_path / "in", state, per_cycle=10)
    plain.drop_next()
    with pytest.raises(DataValidationError, match=r"already replayed 10 rows of stream\.csv with --final-holdout 0; a"):
        Replay(source, tmp_path / "in", state, per_cycle=10, final_holdout=5, served=True)
    assert Replay(source, tmp_path / "in", state, per_cycle=5).served == 10  # same options: it continues
    fresh = Replay(source, tmp_path / "in2", tmp_path / "other.json", per_cycle=10, final_holdout=5, served=True)
    assert fresh.served == 0  # not started: any options are fine


def test_a_final_holdout_as_large_as_the_stream_is_refused(tmp_path):
    with pytest.raises(DataValidationError, match="--final-holdout must be between 0 and 24"):
        Replay(canonical_stream(tmp_path, 25), tmp_path / "in", tmp_path / "r.json", per_cycle=10, final_holdout=25)


def test_the_estimate_interval_holds_the_realised_accuracy_of_calibrated_predictions():
    rng = np.random.default_rng(0)
    held = 0
    for _ in range(400):
        confidences = rng.uniform(0.55, 1.0, size=500)
        realised = np.mean(rng.random(500) < confidences)  # each answer right with its confidence
        low, high = staleness.estimate_interval(confidences)
        held += low <= realised <= high
    assert 0.92 <= held / 400 <= 0.98  # a 95% interval, no wider and no narrower
    assert staleness.estimate_interval(np.array([])) == (0.0, 1.0)


def test_the_estimate_fires_only_when_its_whole_interval_is_below_the_floor():
    barely = staleness.estimated_accuracy_check(np.full(50, 0.84), baseline=0.90, tolerance=0.03)
    clearly = staleness.estimated_accuracy_check(np.full(500, 0.80), baseline=0.90, tolerance=0.03)
    assert not barely.fired and clearly.fired
    assert clearly.interval[0] < 0.80 < clearly.interval[1] and "95% interval" in clearly.detail
    assert clearly.interval_numbers() == {
        "estimated_performance_low": clearly.interval[0],
        "estimated_performance_high": clearly.interval[1],
    }


def day(cycle: int, accuracy: float, estimate: float, low: float, high: float) -> adaptation.DayRecord:
    return adaptation.DayRecord(cycle, as_text(START), "1", 500, accuracy, estimate, low, high, "stale", 0.9)


def test_the_estimates_quality_over_a_replay():
    records = [day(1, 0.90, 0.92, 0.89, 0.95), day(2, 0.88, 0.92, 0.89, 0.95), day(3, 0.93, float("nan"), 0, 1)]
    quality = adaptation.estimate_quality(records)
    assert quality["days"] == 2 and quality["mae"] == pytest.approx(0.03) and quality["coverage"] == 0.5
    table = adaptation_report.day_table(records)
    assert "| 1 | 2026-01-05 | v1 | 0.900 (500) | 0.920 (0.890-0.950) | stale | 0.900: - | 0 | - |" in table
    scores = [adaptation.FinalScore("1", 0.90, 0.91), adaptation.FinalScore("4", 0.93, 0.905)]
    text = adaptation_report.summary_text(records, scores, 0.004, 2000)
    assert "mean absolute error 3.0 points" in text and "on 50% of days" in text
    assert "| change | +3.00 points (McNemar p = 0.004, 2000 tweets) | -0.50 points |" in text
    assert "newest trained" not in text
    rejected = adaptation.FinalScore("6", 0.95, 0.80)  # trained after v4, not promoted: shown, not the change
    text = adaptation_report.summary_text(records, [*scores, rejected], 0.004, 2000)
    assert "| v6 (newest trained, not promoted) | 0.9500 | 0.8000 |" in text and "| change | +3.00 points" in text


def test_the_api_client_says_when_nothing_answers():
    client = ApiClient(f"http://127.0.0.1:{free_port()}", timeout_seconds=2)
    with pytest.raises(ServingUnavailableError, match=r"no prediction API answers at .*runner\.py serve"):
        client.predict(["fine"])


class FakeModelApi(BaseHTTPRequestHandler):
    """Answers ``/model`` with the version and run id in the class attribute ``served``."""

    served: tuple[str, str] = ("", "")

    def do_GET(self):
        version, run_id = self.served
        body, status = json.dumps({"model_version": version, "run_id": run_id}).encode(), 200 if version else 503
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture()
def model_api():
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeModelApi)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def test_the_client_waits_for_its_champion_but_not_for_another_registrys_model(model_api):
    client = ApiClient(f"http://127.0.0.1:{model_api.server_port}", timeout_seconds=2)
    own = {"1": "run-a", "2": "run-b"}
    FakeModelApi.served = ("2", "run-b")
    client.wait_for_version("2", own, timeout_seconds=1)  # already served: returns at once
    FakeModelApi.served = ("1", "run-a")  # our older version: the API has not refreshed yet
    with pytest.raises(ServingUnavailableError, match="still serves version 1 after 0 s, not the champion 2"):
        client.wait_for_version("2", own, timeout_seconds=0.3, poll_seconds=0.1)
    FakeModelApi.served = ("2", "run-elsewhere")  # same number, another registry: no point waiting
    started = time.monotonic()
    with pytest.raises(ServingUnavailableError, match="serves version 2 of run run-elsewhere, which is not in"):
        client.wait_for_version("2", own, timeout_seconds=60)
    assert time.monotonic() - started < 5
    FakeModelApi.served = ("", "")  # no model loaded yet: a 503, waited for like an old version
    assert client.served_model() == ("", "")
    with pytest.raises(ServingUnavailableError, match="still serves version none"):
        client.wait_for_version("2", own, timeout_seconds=0.2, poll_seconds=0.1)


def test_a_replay_day_names_the_gate_decision_from_the_cycle_summary():
    assert adaptation.gate_outcome({}) == ""  # nothing trained that day
    assert adaptation.gate_outcome({"version": "2"}) == "v2 trained, no gate decision (see the cycle's report)"
    judged = {
        "version": "3", "promote": "true", "challenger_accuracy": "0.91", "champion_accuracy": "0.87",
        "judged_on": "feedback holdout", "n": "597", "p_value": "2e-06", "base_regression": "0.004",
    }  # fmt: skip
    assert adaptation.gate_outcome(judged) == (
        "v3 promoted: 0.91 vs 0.87 on the feedback holdout (n = 597, p = 2e-06; base test split -0.0040)"
    )
    assert adaptation.gate_outcome({**judged, "promote": "false"}).startswith("v3 rejected: ")
    behaviour = "challenger fails more behavioural tests: contrast -7.5 points (allowed 5)"
    assert adaptation.gate_outcome({**judged, "promote": "false", "reason": behaviour}).startswith(
        f"v3 rejected ({behaviour}): 0.91 vs 0.87"
    )
