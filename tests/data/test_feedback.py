from __future__ import annotations

import os
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


def test_every_unreadable_incoming_file_is_quarantined_and_the_rest_ingested(tmp_path):
    incoming, store, archive, quarantine = folders(tmp_path)
    (incoming / "a folder.csv").mkdir()  # a directory with a .csv name
    (incoming / "gone.csv").symlink_to(tmp_path / "nowhere.csv")  # listed, then not there to read
    (incoming / "binary.csv").write_bytes(bytes(range(256)) * 4)
    (incoming / "two\nlines.csv").write_text("Review,Sentiment\nfine name aside,positive\n")
    (incoming / "good.csv").write_text("Review,Sentiment\nall good,positive\n")
    report = feedback.ingest_incoming(incoming, store, archive, quarantine)
    assert report.files == ["good.csv", "two\nlines.csv"] and report.rows_added == 2
    assert set(report.quarantined) == {"a folder.csv", "gone.csv", "binary.csv"}
    assert (quarantine / "a folder.csv").is_dir() and (quarantine / "binary.csv").is_file()
    assert "not found" in report.quarantined["gone.csv"]
    assert "not valid UTF-8" in (quarantine / "binary.csv.reason.txt").read_text()
    assert not list(incoming.iterdir())  # nothing left behind to fail the next cycle again


def test_a_torn_tail_of_the_store_is_skipped_then_repaired_by_the_next_append(tmp_path):
    incoming, store, archive, quarantine = folders(tmp_path)
    (incoming / "a.csv").write_text('Review,Sentiment\n"first, with comma",positive\nsecond,negative\n')
    feedback.ingest_incoming(incoming, store, archive, quarantine)
    whole = store.read_bytes()
    # a crash in the middle of the next append: a quoted review cut inside its quotes, after a newline
    store.write_bytes(whole + b'"third review\nstill inside the quotes')
    assert feedback.read_store(store)["Review"].tolist() == ["first, with comma", "second"]
    # the interrupted file was not archived, so it is ingested again: the torn row comes back whole, once
    (incoming / "b.csv").write_text('Review,Sentiment\n"third review\nstill inside the quotes",positive\n')
    (incoming / "c.csv").write_text("Review,Sentiment\nsecond,negative\nfourth,positive\n")
    report = feedback.ingest_incoming(incoming, store, archive, quarantine)
    assert (report.rows_added, report.duplicates_skipped) == (2, 1)
    rows = feedback.read_store(store)["Review"].tolist()
    # (validation folds the newline into a space, as for every review)
    assert rows == ["first, with comma", "second", "third review still inside the quotes", "fourth"]


def test_a_store_cut_inside_its_header_reads_as_empty(tmp_path):
    store = tmp_path / "feedback.csv"
    store.write_bytes(b"Review,Sentim")
    assert feedback.read_store(store).empty
    incoming, _, archive, quarantine = folders(tmp_path)
    (incoming / "a.csv").write_text("Review,Sentiment\nok,positive\n")
    feedback.ingest_incoming(incoming, store, archive, quarantine)
    assert store.read_text().startswith(",".join(feedback.STORE_COLUMNS) + "\nok,positive,")


def test_only_complete_incoming_files_are_taken(tmp_path):
    incoming, store, archive, quarantine = folders(tmp_path)
    (incoming / "being-written.csv.tmp").write_text("Review,Sentiment\nhalf,posi")
    (incoming / "fresh.csv").write_text("Review,Sentiment\njust copied,positive\n")
    now = datetime.now(UTC)
    report = feedback.ingest_incoming(incoming, store, archive, quarantine, now=now, settle_seconds=60)
    assert report.files == [] and sorted(p.name for p in incoming.iterdir()) == ["being-written.csv.tmp", "fresh.csv"]
    settled = now.timestamp() - 61
    os.utime(incoming / "fresh.csv", (settled, settled))
    report = feedback.ingest_incoming(incoming, store, archive, quarantine, now=now, settle_seconds=60)
    assert report.files == ["fresh.csv"] and (incoming / "being-written.csv.tmp").exists()
