from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd

from sentiment_lib.data import feedback


def folders(tmp_path):
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    return incoming, tmp_path / "feedback.csv", tmp_path / "archive", tmp_path / "quarantine"


def test_good_files_are_stored_deduplicated_and_archived(tmp_path):
    incoming, store, archive, quarantine = folders(tmp_path)
    (incoming / "a.csv").write_text(
        "Review,Sentiment,timestamp\nlate again,negative,2015-02-20T08:05\nthanks!,positive,\n"
    )
    (incoming / "b.csv").write_text("Review,Sentiment\nlate   again,negative\nlost my bag,negative\n")
    report = feedback.ingest_incoming(incoming, store, archive, quarantine, now=datetime(2026, 1, 1, tzinfo=UTC))
    assert (report.files, report.rows_added, report.duplicates_skipped) == (["a.csv", "b.csv"], 3, 1)
    rows = pd.read_csv(store, dtype=str, keep_default_na=False)
    assert rows["Review"].tolist() == ["late again", "thanks!", "lost my bag"]
    assert rows["timestamp"].tolist() == ["2015-02-20T08:05", "", ""]
    assert set(rows["arrived_at"]) == {"2026-01-01T00:00:00+00:00"}
    assert rows["source_file"].tolist() == ["a.csv", "a.csv", "b.csv"]
    assert sorted(p.name for p in archive.iterdir()) == ["a.csv", "b.csv"]
    assert not list(incoming.iterdir())


def test_bad_file_is_quarantined_with_its_reason_and_nothing_is_lost(tmp_path):
    incoming, store, archive, quarantine = folders(tmp_path)
    (incoming / "bad.csv").write_text("Review,Sentiment\nmeh,neutral\n")
    (incoming / "bad2.csv").write_bytes(b"Review,Sentiment\ncaf\xe9,positive\n")
    report = feedback.ingest_incoming(incoming, store, archive, quarantine)
    assert report.rows_added == 0 and set(report.quarantined) == {"bad.csv", "bad2.csv"}
    assert "unknown labels ['neutral']" in (quarantine / "bad.csv.reason.txt").read_text()
    assert (quarantine / "bad.csv").read_text() == "Review,Sentiment\nmeh,neutral\n"
    assert "not valid UTF-8" in (quarantine / "bad2.csv.reason.txt").read_text()
    assert not store.exists()


def test_a_second_file_of_the_same_name_is_archived_beside_the_first(tmp_path):
    incoming, store, archive, quarantine = folders(tmp_path)
    for text in ("one,positive", "two,negative"):
        (incoming / "daily.csv").write_text(f"Review,Sentiment\n{text}\n")
        feedback.ingest_incoming(incoming, store, archive, quarantine)
    assert sorted(p.name for p in archive.iterdir()) == ["daily.1.csv", "daily.csv"]
    assert len(feedback.read_store(store)) == 2
