"""The loop's pieces that need no notebook: feedback split, replay, the schedule loop, the guardrails."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from sentiment_lib.data import feedback
from sentiment_lib.errors import ConfigError, DataValidationError
from sentiment_lib.loop import heartbeat
from sentiment_lib.loop.cycle import Cycle, LoopState
from sentiment_lib.loop.replay import Replay
from sentiment_lib.loop.scheduler import StopSignal, run_loop
from sentiment_lib.notebooks import check_overrides
from tests.helpers import AIRLINE


def store(texts: list[str], arrived: str = "2026-11-01T00:00:00+00:00") -> pd.DataFrame:
    labels = ["positive" if i % 2 else "negative" for i in range(len(texts))]
    return pd.DataFrame({"Review": texts, "Sentiment": labels, "arrived_at": arrived})


def test_feedback_split_is_stable_and_leaves_out_base_texts():
    texts = [f"review number {i}" for i in range(2000)]
    first = feedback.split_feedback(store(texts[:1000]), {"review number 0"}, 0.1, 0.2)
    later = feedback.split_feedback(store(texts), {"review number 0"}, 0.1, 0.2)
    assert first.already_in_base == 1 and sum(len(p) for p in first.parts.values()) == 999
    # a text held out once is held out forever: no model trains on the gate's feedback
    assert set(first.parts["holdout"]["Review"]) <= set(later.parts["holdout"]["Review"])
    assert set(first.parts["train"]["Review"]) <= set(later.parts["train"]["Review"])
    share = len(later.parts["holdout"]) / 1999
    assert 0.17 < share < 0.23


def test_with_feedback_keeps_every_feedback_row_and_at_least_half_of_the_base():
    base = store([f"base {i}" for i in range(1000)])
    extra = store([f"feedback {i}" for i in range(200)])
    rows = feedback.with_feedback(base, extra, limit=500, seed=1)
    assert len(rows) == 500 and rows["Review"].str.startswith("feedback").sum() == 200
    flood = feedback.with_feedback(base, store([f"feedback {i}" for i in range(900)]), limit=500, seed=1)
    assert flood["Review"].str.startswith("base").sum() == 250
    assert len(feedback.with_feedback(base, extra, limit=0, seed=1)) == 1200


def test_arrived_after():
    rows = pd.concat([store(["old"], "2026-11-01T00:00:00+00:00"), store(["new"], "2026-11-03T00:00:00+00:00")])
    assert feedback.arrived_after(rows, datetime(2026, 11, 2, tzinfo=UTC))["Review"].tolist() == ["new"]


def test_replay_drops_tweets_in_time_order_and_remembers_where_it_was(tmp_path):
    replay = Replay(AIRLINE, tmp_path / "incoming", tmp_path / "replay.json", per_cycle=100)
    first = replay.drop_next()
    assert first.name == "replay-000000-000099.csv"
    rows = pd.read_csv(first)
    assert len(rows) == 100 and rows["timestamp"].is_monotonic_increasing
    assert set(rows["Sentiment"]) <= {"positive", "negative"}
    again = Replay(AIRLINE, tmp_path / "incoming", tmp_path / "replay.json", per_cycle=100)  # a restart
    second = pd.read_csv(again.drop_next())
    assert second["timestamp"].iloc[0] >= rows["timestamp"].iloc[-1]
    assert again.remaining == len(again.stream) - 200


def test_replay_of_a_canonical_csv_ends_and_rejects_bad_input(tmp_path):
    source = tmp_path / "stream.csv"
    source.write_text("Review,Sentiment,timestamp\nlate,negative,2026-01-02\nfine,positive,2026-01-01\n")
    replay = Replay(source, tmp_path / "in", tmp_path / "r.json", per_cycle=5)
    assert pd.read_csv(replay.drop_next())["Review"].tolist() == ["fine", "late"]
    assert replay.drop_next() is None
    with pytest.raises(DataValidationError, match="per-cycle must be > 0"):
        Replay(source, tmp_path / "in", tmp_path / "r.json", per_cycle=0)
    source.write_text("text,label\nx,y\n")
    with pytest.raises(DataValidationError, match="Review"):
        Replay(source, tmp_path / "in", tmp_path / "r.json", per_cycle=5)


def test_a_budgeted_replay_answers_each_queue_once_with_the_streams_labels_by_request_id(tmp_path):
    source, queues = tmp_path / "stream.csv", tmp_path / "to_label"
    source.write_text("Review,Sentiment\nlate again,negative\ngreat crew,positive\nok,positive\n")
    with pytest.raises(DataValidationError, match="needs --serve"):
        Replay(source, tmp_path / "in", tmp_path / "r.json", per_cycle=2, label_policy="active")
    replay = Replay(source, tmp_path / "in", tmp_path / "r.json", per_cycle=2, served=True, label_policy="active")
    replay.mark_served(2)
    queues.mkdir()
    # the queue asks about one served text, and one another caller sent (the replay cannot label it)
    (queues / "c1.csv").write_text("request_id,Review,why\nr:1,great   crew,uncertain\nx,not ours,uncertain\n")
    assert replay.answer_queues(queues) == 1
    labels = pd.read_csv(tmp_path / "in" / "labels-c1.csv", dtype=str)
    assert labels.values.tolist() == [["r:1", "positive", "replay"]]
    assert replay.answer_queues(queues) == 0 and replay.position == 2  # answered once; the served rows are done
    with pytest.raises(DataValidationError, match="would not continue it"):  # another policy, same workspace
        Replay(source, tmp_path / "in", tmp_path / "r.json", per_cycle=2, served=True, label_policy="random")


def test_the_loop_survives_a_crashing_cycle_and_stops_after_max_cycles():
    calls = []

    def job():
        calls.append(len(calls))
        if len(calls) == 1:
            raise RuntimeError("boom")

    assert run_loop(job, every_seconds=0.01, stop=StopSignal(), max_cycles=3, poll_seconds=0.01) == 3
    assert calls == [0, 1, 2]


def test_each_cycle_leaves_a_heartbeat_crashed_or_not(tmp_path):
    beats = []

    def job():
        beats.append(heartbeat.read(tmp_path / "heartbeat.json"))
        if len(beats) == 2:
            raise RuntimeError("boom")

    started = time.time()
    run_loop(
        job,
        every_seconds=0.01,
        stop=StopSignal(),
        max_cycles=2,
        poll_seconds=0.01,
        heartbeat_file=tmp_path / "heartbeat.json",
    )
    last = heartbeat.read(tmp_path / "heartbeat.json")
    assert beats[0] is None and beats[1].cycles == 1 and not beats[1].crashed
    assert last.cycles == 2 and last.crashed and last.interval_seconds == 0.01
    assert started <= beats[1].finished_at <= last.finished_at <= time.time()


def test_a_damaged_heartbeat_reads_as_none(tmp_path):
    (tmp_path / "heartbeat.json").write_text("{not json")
    assert heartbeat.read(tmp_path / "heartbeat.json") is None
    (tmp_path / "heartbeat.json").write_text('{"finished_at": 1}')
    assert heartbeat.read(tmp_path / "heartbeat.json") is None
    (tmp_path / "heartbeat.json").write_text(
        '{"finished_at": "yesterday", "interval_seconds": 60, "cycles": 1, "crashed": false}'
    )
    assert heartbeat.read(tmp_path / "heartbeat.json") is None


def test_the_loop_stops_when_asked():
    stop = StopSignal()
    assert run_loop(lambda: setattr(stop, "requested", True), 1, stop, poll_seconds=0.01) == 1


def test_guardrails_min_new_rows_and_max_retrains_per_day(tmp_path):
    cycle = Cycle(tmp_path, "smoke", {"min_new_rows": 100, "max_retrains_per_day": 2})
    now = datetime(2026, 11, 29, 12, tzinfo=UTC)
    state = LoopState(store_rows_at_last_retrain=50)
    assert cycle._retrain_blocker(state, 120, now) == "70 new labelled rows since the last retrain, 100 needed"
    assert cycle._retrain_blocker(state, 150, now) == ""
    state.retrains = [(now - timedelta(hours=h)).isoformat() for h in (30, 5, 1)]
    assert "2 retrains in the last 24 hours" in cycle._retrain_blocker(state, 150, now)


def test_an_unknown_override_is_refused_before_anything_runs():
    assert check_overrides({"min_new_rows": 5, "promote": "never"}) == {"min_new_rows": 5, "promote": "never"}
    with pytest.raises(ConfigError, match=r"Unknown parameter\(s\) \['min_new_row'\]"):
        check_overrides({"min_new_row": 5})
