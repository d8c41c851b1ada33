"""The watchful loop as an operator runs it: ``runner.py once`` cycles against real MLflow, a real SMTP server
(aiosmtpd on loopback), real notebooks (papermill, ``smoke`` preset) and, for the promotion, the real app."""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import sys

import mlflow
import pandas as pd
import pytest

from sentiment_lib.data.schema import normalize_text
from sentiment_lib.locking import workspace_lock
from sentiment_lib.loop.replay import load_stream
from sentiment_lib.tracking import registry
from sentiment_lib.tracking import runs as tracking
from sentiment_lib.workspace import Workspace
from tests.helpers import (
    AIRLINE,
    NAME,
    REPO,
    LiveServer,
    as_json,
    child_env,
    run_runner,
    sst2,
    wait_until,
    write_sst2_sample,
)

pytestmark = pytest.mark.slow
MODEL = NAME
# every cycle of these tests: the smoke preset, and no SST-2 test-set evaluation (the split's test part is enough)
SMOKE = ("--preset", "smoke", "-p", "sst2_test_path", "none")


@pytest.fixture(scope="module")
def bootstrapped(tmp_path_factory):
    """A workspace whose first cycle trained and promoted version 1 (copied for each test)."""
    ws = tmp_path_factory.mktemp("loop-template")
    write_sst2_sample(ws, rows=1200, test_rows=10)
    done = run_runner("once", *SMOKE, workspace=ws)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "no champion yet: training the first model" in done.stdout
    (summary,) = [json.loads(p.read_text()) for p in (ws / "reports").glob("*/cycle.json")]
    assert summary["gate"] == {"version": "1"}  # trained and promoted as the first version, judged by no gate
    return ws


@pytest.fixture
def workspace(bootstrapped, tmp_path):
    ws = tmp_path / "ws"
    shutil.copytree(bootstrapped, ws)
    return ws


@pytest.fixture
def smtp(smtp_server):
    inbox, port = smtp_server
    env = {
        "ALERT_SMTP_HOST": "127.0.0.1",
        "ALERT_SMTP_PORT": str(port),
        "ALERT_EMAIL_FROM": "pipeline@example.test",
        "ALERT_EMAIL_TO": "ops@example.test",
        "ALERT_SMTP_STARTTLS": "false",
    }
    return inbox, env


def cycle(ws, env, *extra: str, expect_ok: bool = True) -> dict:
    """One ``runner.py once``; returns the cycle's summary (reports/<cycle>/cycle.json)."""
    done = run_runner("once", *SMOKE, *extra, workspace=ws, env=env)
    if expect_ok:
        assert done.returncode == 0, done.stderr[-3000:]
    summaries = [json.loads(p.read_text()) for p in (ws / "reports").glob("*/cycle.json")]
    return max(summaries, key=lambda s: s["started"])


def drop(ws, rows: pd.DataFrame, name: str) -> None:
    incoming = ws / "data" / "incoming"
    incoming.mkdir(parents=True, exist_ok=True)
    rows[["Review", "Sentiment"]].to_csv(incoming / name, index=False)


def heldout_sst2(ws, n: int, seed: int = 7) -> pd.DataFrame:
    """SST-2 training phrases that are not in the workspace's training data."""
    train = sst2("train")
    used = set(pd.read_csv(ws / "data" / "raw" / "sentiment_analysis.csv")["Review"])
    return train[~train["Review"].isin(used)].sample(n, random_state=seed)


def champion_version(ws) -> str:
    tracking.configure_client(ws)
    return str(registry.version_for_alias(MODEL, "champion").version)


def test_a_stable_stream_raises_no_alert_over_several_cycles(workspace, smtp):
    inbox, env = smtp
    stream = heldout_sst2(workspace, 120)
    statuses = []
    for i in range(3):
        drop(workspace, stream.iloc[i * 40 : (i + 1) * 40], f"stable-{i}.csv")
        statuses.append(cycle(workspace, env)["status"])
    assert statuses == ["healthy"] * 3
    assert inbox.messages == [] and not (workspace / "outbox").exists()
    store = pd.read_csv(workspace / "data" / "feedback" / "feedback.csv")
    assert len(store) == 120 and len(list((workspace / "data" / "archive").glob("stable-*.csv"))) == 3
    assert len(pd.read_csv(workspace / "reports" / "staleness_history.csv")) == 3
    index = (workspace / "reports" / "index.html").read_text()
    assert index.count('<span class="healthy">healthy</span>') == 3
    ages = re.search(r"<polyline class='age' data-series='age' points='([^']*)'", index)  # the chart, inline
    assert "<svg id='history-chart'" in index and len(ages.group(1).split()) == 3  # a point per check
    # one monitoring run for the champion, one step per cycle: the MLflow UI charts it over time
    tracking.configure_client(workspace)
    monitoring = mlflow.search_runs(search_all_experiments=True, filter_string="tags.`pipeline.step` = 'monitoring'")
    assert len(monitoring) == 1 and monitoring["tags.model_version"].iloc[0] == champion_version(workspace)
    history = mlflow.MlflowClient().get_metric_history(monitoring["run_id"].iloc[0], "staleness_age")
    assert [m.step for m in history] == [0, 1, 2]


def wrong_tweets(ws, n: int) -> pd.DataFrame:
    """Airline tweets (positive or negative) that the champion gets wrong, oldest first."""
    tweets = pd.read_csv(AIRLINE)
    tweets = tweets[tweets["airline_sentiment"] != "neutral"].head(4000)
    tracking.configure_client(ws)
    predictor = registry.load_served_model(MODEL, "champion").predictor
    predicted = predictor.predict(tweets["text"].tolist()).labels
    wrong = tweets[[p != t for p, t in zip(predicted, tweets["airline_sentiment"], strict=True)]]
    assert len(wrong) >= n
    return pd.DataFrame({"Review": wrong["text"], "Sentiment": wrong["airline_sentiment"]}).head(n)


def test_a_degraded_stream_alerts_once_retrains_promotes_and_the_app_follows(workspace, smtp, live_server):
    inbox, env = smtp
    stream = wrong_tweets(workspace, 160)
    server = live_server(workspace, {"SENTIMENT_SERVE_REFRESH_SECONDS": "1"})
    assert as_json(server.request("POST", "/predict", b'{"review": "fine"}', JSON)[1])["model_version"] == "1"
    drop(workspace, stream.iloc[:40], "day-1.csv")
    first = cycle(workspace, env, *LENIENT_GATE)
    assert first["status"] == "degraded" and any("accuracy 0.000 on 40" in r for r in first["reasons"]), first
    assert any("not retrained: 40 new labelled rows since the last retrain, 50 needed" in a for a in first["actions"])
    drop(workspace, stream.iloc[40:], "day-2.csv")
    second = cycle(workspace, env, *LENIENT_GATE)
    assert second["status"] == "degraded"
    assert any(a.endswith("(suppressed)") and a.startswith("degraded") for a in second["alerts"])
    assert any("version 2 promoted by the gate" in a for a in second["actions"]), second["actions"]
    assert (second["gate"]["version"], second["gate"]["promote"], first["gate"]) == ("2", "true", {})
    assert champion_version(workspace) == "2"
    third = cycle(workspace, env, *LENIENT_GATE)  # nothing new since version 2 was trained
    assert third["status"] == "healthy"
    assert inbox.kinds() == ["degraded", "retrain_started", "promoted", "healthy"]
    wait_for_version(server, "2")
    degraded = inbox.messages[0]
    assert degraded["Subject"].startswith("[sentiment-pipeline] Model v1 degraded: performance")
    assert "accuracy 0.000 on 40 recent labelled reviews" in degraded.get_payload(decode=True).decode()
    promoted = inbox.messages[2].get_payload(decode=True).decode()
    assert "challenger_version: 2" in promoted and "champion_version: 1" in promoted
    version = registry.version_for_alias(MODEL, "champion")
    assert version.tags["gate.promote"] == "true" and version.tags["gate.champion_version"] == "1"
    # dated by the cycle that trained it (the loop's clock), which the second cycle's summary records
    assert version.tags["trained_at"] == second["started"]
    # trained on the base data plus the labelled feedback, never on the model's own predictions
    train_feedback = pd.read_csv(workspace / "data" / "processed" / "feedback_train.csv")
    holdout = pd.read_csv(workspace / "data" / "processed" / "feedback_holdout.csv")
    assert (
        len(train_feedback)
        + len(holdout)
        + len(pd.read_csv(workspace / "data" / "processed" / "feedback_validation.csv"))
        == 160
    )
    assert set(train_feedback["Review"]).isdisjoint(holdout["Review"])


JSON = {"Content-Type": "application/json"}
# smoke models train on 320 rows and are tested on 120, and on 30 behavioural cases per capability: allow
# their noise on the base test split, and do not judge capabilities (tests/notebooks does, on real numbers)
LENIENT_GATE = (
    *("-p", "gate_max_regression", "0.1"),
    *("-p", "gate_max_capability_drop", "1"),
    *("-p", "gate_max_identity_drop", "1"),
)


def wait_for_version(server: LiveServer, version: str, timeout: float = 60) -> None:
    def answers_with_it() -> bool:
        status, body, _ = server.request("POST", "/predict", b'{"review": "the flight was late"}', JSON)
        return status == 200 and as_json(body)["model_version"] == version

    wait_until(answers_with_it, timeout, 0.5, f"the app did not answer with version {version}")


def test_poisoned_feedback_is_rejected_by_the_gate(workspace, smtp):
    inbox, env = smtp
    poisoned = heldout_sst2(workspace, 300, seed=11)
    poisoned["Sentiment"] = poisoned["Sentiment"].map({"positive": "negative", "negative": "positive"})
    drop(workspace, poisoned, "flipped.csv")
    summary = cycle(workspace, env)
    assert summary["status"] == "degraded"
    assert any("version 2 rejected by the gate" in a for a in summary["actions"]), summary["actions"]
    assert (summary["gate"]["version"], summary["gate"]["promote"]) == ("2", "false")
    assert champion_version(workspace) == "1"
    assert inbox.kinds() == ["degraded", "retrain_started", "rejected"]
    body = inbox.messages[-1].get_payload(decode=True).decode()
    assert "Challenger version 2 was rejected; @champion is version 1" in body and "p_value" in body
    rejected = registry.version_for_alias(MODEL, "challenger")
    assert rejected.tags["gate.promote"] == "false"
    assert "challenged_by.2" in registry.version_for_alias(MODEL, "champion").tags


def test_a_broken_step_and_a_bad_file_each_alert_and_lose_nothing(workspace, smtp):
    inbox, env = smtp
    drop(workspace, heldout_sst2(workspace, 30), "good.csv")
    (workspace / "data" / "incoming" / "bad.csv").write_text("Review,Sentiment\nthe seats were fine,neutral\n")
    broken = cycle(workspace, env, "-p", "processed_dir", "nowhere", expect_ok=False)
    assert broken["failed_step"] == "04_staleness" and broken["quarantined"] == ["bad.csv"]
    assert sorted(inbox.kinds()) == ["quarantine", "step_failed"]
    failure = next(m for m in inbox.messages if m["X-Alert-Kind"] == "step_failed").get_payload(decode=True).decode()
    assert "raised DataValidationError" in failure and "The champion is unchanged (version 1)" in failure
    assert "unknown labels ['neutral']" in (workspace / "data" / "quarantine" / "bad.csv.reason.txt").read_text()
    assert (workspace / "data" / "quarantine" / "bad.csv").is_file()
    assert len(pd.read_csv(workspace / "data" / "feedback" / "feedback.csv")) == 30  # the good file was ingested
    assert champion_version(workspace) == "1"
    # a notebook that runs out of time fails the same way; the same failure is not mailed twice
    slow = cycle(workspace, env, "-p", "step_timeout_seconds", "1", expect_ok=False)
    assert slow["failed_step"] == "04_staleness"
    status = json.loads((workspace / "reports" / slow["cycle"] / "status.json").read_text())
    assert "ran longer than the 1 s timeout" in status[0]["error"]
    assert any(a.startswith("step_failed") and a.endswith("(suppressed)") for a in slow["alerts"])
    assert len(inbox.messages) == 2


def test_an_old_champion_raises_the_age_alert(workspace, smtp):
    inbox, env = smtp
    summary = cycle(workspace, env, "-p", "max_age_days", "0.00001")
    assert summary["status"] == "stale" and any(r.startswith("champion is 0.0 days old") for r in summary["reasons"])
    assert any("not retrained: 0 new labelled rows" in a for a in summary["actions"])
    assert inbox.kinds() == ["stale"] and inbox.messages[0]["Subject"].endswith("stale: age")


def test_one_cycle_at_a_time(workspace):
    with workspace_lock(Workspace(workspace), "a test"):
        done = run_runner("once", *SMOKE, workspace=workspace)
    assert done.returncode == 2 and "is busy: `a test`" in done.stderr
    assert not (workspace / "data" / "feedback").exists()  # nothing ran


def test_the_loop_stops_cleanly_on_sigterm(workspace):
    log = workspace / "logs" / "runner.log"
    log.unlink(missing_ok=True)  # the template's first cycle wrote one
    loop = subprocess.Popen(
        [sys.executable, str(REPO / "runner.py"), "loop", *SMOKE, "--every", "60", "--workspace", str(workspace)],
        cwd=workspace,
        env=child_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(  # the first cycle starts at once; wait for its summary line
            lambda: log.is_file() and "Cycle " in log.read_text(), 300, 1, "the loop's first cycle did not finish"
        )
        loop.send_signal(signal.SIGTERM)
        assert loop.wait(timeout=30) == 0
    finally:
        loop.kill()
    text = log.read_text()
    assert "SIGTERM received: stopping after the current step" in text and "Loop stopped after 1 cycle(s)" in text
    with workspace_lock(Workspace(workspace), "a test"):
        pass  # the lock was released


def airline_stream(folder, rows: int):
    """The first ``rows`` airline tweets (positive or negative) with every column, as ``replay`` reads them."""
    tweets = pd.read_csv(AIRLINE)
    stream = folder / "tweets.csv"
    tweets[tweets["airline_sentiment"] != "neutral"].head(rows).to_csv(stream, index=False)
    return stream


def test_a_served_replay_runs_on_the_simulated_clock_with_labels_a_day_late(workspace, smtp, live_server):
    _, env = smtp
    stream = airline_stream(workspace, 120)
    start = "2026-01-05T08:00:00+00:00"
    server = live_server(workspace, {"SENTIMENT_SERVE_REFRESH_SECONDS": "1"})
    # 2 days of 40 tweets, 40 kept for the end (40 labels by day 2: too few to retrain, 50 needed)
    done = run_runner(
        "replay", *SMOKE, "--source", str(stream),
        "--per-cycle", "40", "--cycles", "2", "--hours-per-cycle", "24", "--start", start,
        "--serve", server.url, "--final-holdout", "40", workspace=workspace, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert "day 1 (2026-01-05)" in done.stdout and "day 2 (2026-01-06)" in done.stdout, done.stdout
    records = json.loads((workspace / "reports" / "replay" / "adaptation.json").read_text())
    assert [(r["cycle"], r["day"], r["served"], r["champion"]) for r in records] == [
        (1, start, 40, "1"),
        (2, "2026-01-06T08:00:00+00:00", 40, "1"),
    ]
    for record in records:  # the estimate came from the 40 texts served that day, with its interval
        assert 0 <= record["estimate_low"] <= record["estimate"] <= record["estimate_high"] <= 1
        assert 0 <= record["accuracy"] <= 1
    # the day-1 tweets were labelled on day 2, dated by the simulated clock; the day-2 labels are still to come
    store = pd.read_csv(workspace / "data" / "feedback" / "feedback.csv")
    assert len(store) == 40 and set(store["arrived_at"]) == {"2026-01-06T08:00:00+00:00"}
    state = json.loads((workspace / "state" / "replay.json").read_text())
    key = str(stream.resolve())
    assert (state[key], state[f"{key}#served"]) == (40, 80)
    assert (state[f"{key}#clock"], state[f"{key}#first_champion"]) == ("2026-01-07T08:00:00+00:00", "1")
    assert {r["verdict"] for r in records} <= {"healthy", "stale", "degraded"}
    assert not any(r["retrain"] for r in records)
    assert any(n.startswith("@") for n in records[1]["drift_ngrams"]), records[1]  # the day's tweets explain drift
    served = [json.loads(line) for f in (workspace / "logs" / "served").glob("*.jsonl") for line in f.open()]
    assert len([r for r in served if r["text"] in set(pd.read_csv(stream)["text"])]) == 80
    day_one = set(load_stream(stream)["Review"].head(40))  # its estimate: the mean confidence of its own answers
    confidences = [r["confidence"] for r in served if r["text"] in day_one]
    assert records[0]["estimate"] == pytest.approx(sum(confidences) / len(confidences), abs=1e-5)
    summary = (workspace / "reports" / "replay" / "adaptation.md").read_text()
    assert "champion when the replay started" in summary and "(McNemar p = " in summary and "40 tweets" in summary
    final = json.loads((workspace / "reports" / "replay" / "final.json").read_text())
    assert final["first"]["version"] == final["last"]["version"] == final["newest"]["version"] == "1"  # none trained
    acknowledged_then_rebaselined(workspace, env)


def test_a_budgeted_replay_labels_only_the_queues_choice_by_request_id(workspace, smtp, live_server):
    _, env = smtp
    stream = airline_stream(workspace, 120)
    server = live_server(workspace, {"SENTIMENT_SERVE_REFRESH_SECONDS": "1"})
    done = run_runner(
        "replay", *SMOKE, "--source", str(stream), "--per-cycle", "40", "--cycles", "3", "--hours-per-cycle", "24",
        "--serve", server.url, "--label-policy", "active", "--label-budget", "10", workspace=workspace, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    records = json.loads((workspace / "reports" / "replay" / "adaptation.json").read_text())
    assert [r["labels"] for r in records] == [0, 10, 10]  # each day answers yesterday's queue of 10
    queues = sorted((workspace / "data" / "to_label").glob("*.csv"))
    assert len(queues) == 3
    asked = pd.concat([pd.read_csv(q, dtype=str, keep_default_na=False) for q in queues])
    assert len(asked) == 30 and asked["Review"].is_unique
    assert all(why in ("random", "uncertain", "disagreement") or why.startswith("drift: ") for why in asked["why"])
    assert list(asked["why"]).count("random") == 6  # a fifth of each queue of 10 (label_random_share), drawn first
    day_one = set(load_stream(stream)["Review"].head(40))
    assert set(pd.read_csv(queues[0], dtype=str)["Review"]) <= day_one  # the first queue chose among day 1's texts
    # the labels came back by request id alone, and the store kept who gave them and for which served text
    store = pd.read_csv(workspace / "data" / "feedback" / "feedback.csv", dtype=str, keep_default_na=False)
    assert len(store) == 20 and set(store["annotator"]) == {"replay"}
    assert set(store["request_id"]) == set(asked["request_id"].head(20))
    why = dict(zip(asked["request_id"], asked["why"], strict=True))
    assert all(why[rid] == chosen for rid, chosen in zip(store["request_id"], store["chosen_as"], strict=True))
    rows = load_stream(stream)
    truth = dict(zip(rows["Review"].map(normalize_text), rows["Sentiment"], strict=True))
    assert all(truth[text] == label for text, label in zip(store["Review"], store["Sentiment"], strict=True))
    actions = [a for p in (workspace / "reports").glob("*/cycle.json") for a in json.loads(p.read_text())["actions"]]
    # of the day's 40 tweets, near-duplicates (of each other, or of one asked before) count once
    queued = [a for a in actions if re.match(r"labelling queue: 10 of (\d+) new served texts", a)]
    assert len(queued) == 3 and all(int(a.split()[4]) <= 40 for a in queued), actions


def latest_verdict(ws) -> dict:
    return json.loads(max((ws / "reports").glob("*/verdict.json")).read_text())


def acknowledged_then_rebaselined(workspace, env) -> None:
    """After the served replay: the operator accepts the tweets' drift, then makes them the reference."""
    assert latest_verdict(workspace)["acknowledged"] is None
    done = run_runner("ack", "--reason", "tweets are our traffic now", workspace=workspace, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "It alerts again if the AUC exceeds" in done.stdout
    again = cycle(workspace, env)  # the same recent texts: the acknowledged shift no longer fires
    verdict = latest_verdict(workspace)
    drift = next(c for c in verdict["checks"] if c["name"] == "drift")
    assert not drift["fired"] and "tweets are our traffic now" in drift["detail"], drift
    assert verdict["acknowledged"]["model_version"] == "1" and "drift" not in " ".join(again["reasons"])
    done = run_runner("rebaseline", workspace=workspace, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    cycle(workspace, env)
    rebased = latest_verdict(workspace)
    assert rebased["drift_reference"].startswith("the 80 texts v1 served before the rebaseline")
    assert rebased["acknowledged"] is None  # the acknowledgement measured against the old reference is gone
    history = json.loads((workspace / "state" / "drift.json").read_text())["history"]
    assert [h["action"] for h in history] == ["ack", "rebaseline"]
