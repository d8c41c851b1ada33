"""The served log: torn lines skipped and counted, daily files kept for the retention, only the window read."""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime, timedelta

from sentiment_lib.serving.served_log import ServedLog, read_served


def test_a_line_cut_short_is_skipped_and_the_next_write_stays_whole(tmp_path, caplog):
    log = ServedLog(tmp_path)
    assert not log.record(["first"], ["positive"], [0.9], "1").failed
    path = next(tmp_path.glob("served-*.jsonl"))
    with path.open("a") as handle:
        handle.write('{"time": "2026-01-01T00:00:00+00:00", "text": "cut sh')  # a crash mid-write
    assert [r["text"] for r in read_served(tmp_path)] == ["first"]
    assert not log.record(["second"], ["negative"], [0.8], "1").failed
    with caplog.at_level(logging.WARNING):
        assert [r["text"] for r in read_served(tmp_path)] == ["first", "second"]
    assert "Skipped 1 damaged line(s)" in caplog.text


def test_days_older_than_the_retention_are_deleted_on_the_first_write_of_a_day(tmp_path):
    today = datetime.now(UTC)
    log = ServedLog(tmp_path, retention_days=7)
    old, kept = log.path_for(today - timedelta(days=8)), log.path_for(today - timedelta(days=6))
    for path in (old, kept):
        path.write_text("")
    (tmp_path / "notes.jsonl").write_text("not ours")
    log.record(["text"], ["positive"], [0.7], "1")
    assert not old.exists() and kept.exists() and (tmp_path / "notes.jsonl").exists()


def test_only_the_days_of_the_window_are_read(tmp_path):
    log = ServedLog(tmp_path)
    log.record(["today"], ["positive"], [0.7], "1")
    # a day before the window that cannot even be opened: reading it would raise IsADirectoryError
    log.path_for(datetime.now(UTC) - timedelta(days=3)).mkdir()
    since = datetime.now(UTC) - timedelta(hours=1)
    assert [r["text"] for r in read_served(tmp_path, since=since)] == ["today"]


def test_a_write_that_fails_is_counted_not_raised(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    log = ServedLog(blocker / "served")
    assert log.record(["a"], ["positive"], [0.5], "1").failed
    assert log.record(["b"], ["positive"], [0.5], "1").failed
    assert log.failures == 2 and "Not a directory" in log.last_failure


def test_each_replica_writes_its_own_file_and_readers_merge_them_in_time_order(tmp_path, monkeypatch):
    monkeypatch.setenv("SENTIMENT_REPLICA_ID", "host a/1")
    first = ServedLog(tmp_path)
    second = ServedLog(tmp_path, replica="host-b-2")
    for n in range(6):
        (first if n % 2 else second).record([f"text {n}"], ["positive"], [0.6], "1")
        time.sleep(0.002)  # times are kept to the millisecond: lines of one millisecond have no order
    # written before replicas: one file per day, no replica in its name; still read, in time order
    before = datetime.now(UTC) - timedelta(minutes=5)
    legacy = tmp_path / f"served-{before:%Y%m%d}.jsonl"
    legacy.write_text(
        json.dumps({"time": before.isoformat(), "text": "old", "confidence": 0.5, "model_version": "1"}) + "\n"
    )
    names = sorted(p.name for p in tmp_path.glob("served-*.jsonl"))
    today = f"{datetime.now(UTC):%Y%m%d}"
    assert f"served-{today}-host_a_1.jsonl" in names and f"served-{today}-host-b-2.jsonl" in names
    texts = [r["text"] for r in read_served(tmp_path)]
    assert texts == ["old"] + [f"text {n}" for n in range(6)]
    assert "_at" not in next(read_served(tmp_path))


def test_each_text_carries_its_requests_id_numbered_within_a_batch(tmp_path):
    log = ServedLog(tmp_path)
    log.record(["alone"], ["positive"], [0.9], "1", request_id="req-1")
    log.record(["first", "second"], ["positive", "negative"], [0.9, 0.6], "1", request_id="req-2")
    log.record(["no id"], ["positive"], [0.9], "1")
    ids = [(r["text"], r.get("request_id")) for r in read_served(tmp_path)]
    assert ids == [("alone", "req-1"), ("first", "req-2#0"), ("second", "req-2#1"), ("no id", None)]


def test_a_text_over_the_limit_is_logged_cut_with_its_length_and_counted(tmp_path):
    log = ServedLog(tmp_path, max_text_chars=5)
    outcome = log.record(["short", "longer text"], ["positive", "negative"], [0.9, 0.8], "1")
    assert (outcome.written, outcome.truncated) == (2, 1)
    lines = list(read_served(tmp_path))
    assert [line["text"] for line in lines] == ["short", "longe"]
    assert "text_chars" not in lines[0] and lines[1]["text_chars"] == 11
