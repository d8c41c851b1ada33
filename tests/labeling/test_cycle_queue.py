"""A cycle's queue: texts served since the last queue, never asked twice, labels back by request id alone."""

from __future__ import annotations

import pandas as pd
import pytest

from sentiment_lib.data import feedback
from sentiment_lib.labeling import cycle_queue, queue
from sentiment_lib.serving.served_log import SHADOW_PREFIX, ServedLog
from sentiment_lib.settings import Settings
from sentiment_lib.workspace import Workspace


def workspace(tmp_path, **settings) -> Workspace:
    return Workspace(tmp_path, Settings(**settings))


def serve(ws: Workspace, texts: list[str], confidences: list[float], request_id: str) -> None:
    ServedLog(ws.served_log).record(texts, ["positive"] * len(texts), confidences, "1", request_id=request_id)


def test_each_served_text_is_offered_to_one_queue_and_a_queued_text_is_never_asked_again(tmp_path):
    ws = workspace(tmp_path, label_budget=2)
    serve(ws, ["a sure one", "a coin toss", "rather unsure"], [0.99, 0.5, 0.6], "day1")
    first = cycle_queue.write_queue(ws, "c1", verdict=None)
    # one drawn at random (20% of 2, at least one), the most uncertain of the others
    assert (first.chosen, first.considered, first.by_reason) == (2, 3, {"random": 1, "uncertain": 1})
    rows = pd.read_csv(first.path, dtype=str, keep_default_na=False)
    (drawn,) = rows.loc[rows["why"] == "random", "request_id"]
    assert rows.loc[rows["why"] == "uncertain", "request_id"].tolist() == ["day1#2" if drawn == "day1#1" else "day1#1"]
    assert cycle_queue.write_queue(ws, "c2", verdict=None).path is None  # nothing new was served
    serve(ws, ["a coin toss", "something new"], [0.5, 0.7], "day2")  # the first is queued already
    second = cycle_queue.write_queue(ws, "c3", verdict=None)
    assert (second.chosen, second.considered) == (1, 1)
    assert "1 of 1 new served texts in c3.csv (1 random)" in second.summary()


def test_the_challengers_answers_in_the_shadow_log_make_disagreements(tmp_path):
    ws = workspace(tmp_path, label_budget=5)
    serve(ws, ["sure and disputed", "sure and agreed", "unsure"], [0.97, 0.96, 0.55], "r")
    shadow = ServedLog(ws.shadow_log, prefix=SHADOW_PREFIX)
    answers = [("r#0", "sure and disputed", "negative", 0.9), ("r#1", "sure and agreed", "positive", 0.9)]
    shadow.append([
        {"time": "2030-01-01T00:00:00.000+00:00", "request_id": rid, "text": text, "champion_version": "1",
         "champion_sentiment": "positive", "champion_confidence": 0.97, "challenger_version": "2",
         "challenger_sentiment": label, "challenger_confidence": confidence}
        for rid, text, label, confidence in answers
    ])  # fmt: skip
    outcome = cycle_queue.write_queue(ws, "c1", verdict=None)
    rows = pd.read_csv(outcome.path, dtype=str, keep_default_na=False)
    (drawn,) = rows.loc[rows["why"] == "random", "request_id"]
    by_id = {r["request_id"]: r for r in rows.to_dict("records")}
    assert set(by_id) == {"r#0", "r#1", "r#2"} and by_id["r#0"]["challenger_sentiment"] == "negative"
    assert drawn == "r#2"  # the seeded draw (seed 42, cycle c1) leaves the disputed text to the disagreements
    assert by_id["r#0"]["why"] == "disagreement" and by_id["r#1"]["challenger_sentiment"] == "positive"
    assert outcome.by_reason == {"random": 1, "disagreement": 1, "uncertain": 1}


def test_a_label_given_by_request_id_finds_its_text_in_the_queue_and_keeps_its_provenance(tmp_path):
    ws = workspace(tmp_path, label_budget=5)
    serve(ws, ["the seat broke", "fine flight"], [0.55, 0.6], "req")
    cycle_queue.write_queue(ws, "c1", verdict=None)
    ws.incoming.mkdir(parents=True)
    (ws.incoming / "labels.csv").write_text(
        "request_id,Sentiment,annotator,labelled_at\nreq#0,negative,ann@example.com,2026-12-06T10:00:00Z\n"
        "req#1,positive,,\n"
    )
    report = feedback.ingest_workspace(ws, find_texts=queue.text_finder(ws.to_label))
    assert (report.rows_added, report.quarantined) == (2, {})
    store = feedback.read_store(ws.feedback_store)
    assert store[["Review", "Sentiment", "request_id", "annotator"]].values.tolist() == [
        ["the seat broke", "negative", "req#0", "ann@example.com"],
        ["fine flight", "positive", "req#1", ""],
    ]


def test_the_store_keeps_why_a_label_was_asked_and_the_performance_check_reads_the_random_share_only(tmp_path):
    ws = workspace(tmp_path, label_budget=10)
    serve(ws, [f"served text {word}" for word in "abcdefghij"], [0.5 + n / 25 for n in range(10)], "day")
    queued = pd.read_csv(cycle_queue.write_queue(ws, "c1", verdict=None).path, dtype=str, keep_default_na=False)
    ws.incoming.mkdir(parents=True)
    labels = queued[["request_id"]].assign(Sentiment="negative")
    labels.to_csv(ws.incoming / "labels.csv", index=False)
    (ws.incoming / "stream.csv").write_text("Review,Sentiment\na label nobody chose,positive\n")
    assert feedback.ingest_workspace(ws, find_texts=queue.text_finder(ws.to_label)).rows_added == 11
    store = feedback.read_store(ws.feedback_store)
    assert dict(zip(store["request_id"], store["chosen_as"], strict=True)) == {
        **dict(zip(queued["request_id"], queued["why"], strict=True)),
        "": "",
    }
    fair = feedback.sampled_at_random(store)
    drawn = set(queued.loc[queued["why"] == "random", "Review"])
    assert len(drawn) == 2 and set(fair["Review"]) == drawn | {"a label nobody chose"}  # 20% of 10


def test_a_request_id_no_queue_holds_quarantines_the_file_and_says_which(tmp_path):
    ws = workspace(tmp_path)
    ws.incoming.mkdir(parents=True)
    (ws.incoming / "labels.csv").write_text("request_id,Sentiment\nnever-asked,negative\n")
    report = feedback.ingest_workspace(ws, find_texts=queue.text_finder(ws.to_label))
    assert report.rows_added == 0
    assert "no Review and a request_id no labelling queue" in report.quarantined["labels.csv"]
    assert "'never-asked'" in report.quarantined["labels.csv"]


def test_a_store_written_before_the_provenance_columns_gains_them_and_keeps_its_rows(tmp_path):
    ws = workspace(tmp_path)
    ws.feedback_store.parent.mkdir(parents=True, exist_ok=True)
    ws.feedback_store.write_text(
        "Review,Sentiment,timestamp,arrived_at,source_file\nold row,positive,,2026-01-01,a.csv\n"
    )
    ws.incoming.mkdir(parents=True)
    (ws.incoming / "b.csv").write_text("Review,Sentiment\nnew row,negative\n")
    assert feedback.ingest_workspace(ws, find_texts=queue.text_finder(ws.to_label)).rows_added == 1
    store = feedback.read_store(ws.feedback_store)
    assert list(store.columns) == feedback.STORE_COLUMNS
    assert store[["Review", "source_file", "request_id"]].values.tolist() == [["old row", "a.csv", ""],
                                                                            ["new row", "b.csv", ""]]  # fmt: skip


def test_labels_stored_before_the_queue_kept_why_do_not_pass_for_random_ones(tmp_path):
    ws = workspace(tmp_path)
    ws.feedback_store.parent.mkdir(parents=True, exist_ok=True)
    ws.feedback_store.write_text(
        "Review,Sentiment,timestamp,arrived_at,source_file,request_id,annotator,labelled_at\n"
        "asked by id,positive,,2026-01-01,a.csv,r#1,,\nall of a stream,negative,,2026-01-01,b.csv,,,\n"
    )
    old = feedback.read_store(ws.feedback_store)
    assert feedback.sampled_at_random(old)["Review"].tolist() == ["all of a stream"]
    ws.incoming.mkdir(parents=True)
    (ws.incoming / "c.csv").write_text("Review,Sentiment\nnew row,negative\n")
    assert feedback.ingest_workspace(ws, find_texts=queue.text_finder(ws.to_label)).rows_added == 1
    store = feedback.read_store(ws.feedback_store)
    assert store["chosen_as"].tolist() == ["unknown", "", ""]
    assert feedback.sampled_at_random(store)["Review"].tolist() == ["all of a stream", "new row"]


def test_an_unreadable_queue_file_loses_only_why_labels_with_their_texts_were_asked(tmp_path):
    ws = workspace(tmp_path)
    ws.to_label.mkdir(parents=True)
    (ws.to_label / "c1.csv").write_bytes("request_id,Review\nr#0,caf\xe9 was cold\n".encode("latin-1"))
    ws.incoming.mkdir(parents=True)
    (ws.incoming / "texts.csv").write_text("request_id,Review,Sentiment\nr#0,café was cold,negative\n")
    (ws.incoming / "ids.csv").write_text("request_id,Sentiment\nr#0,negative\n")
    report = feedback.ingest_workspace(ws, find_texts=queue.text_finder(ws.to_label))
    assert report.rows_added == 1 and list(report.quarantined) == ["ids.csv"]  # its text is in the broken file
    assert "c1.csv" in report.quarantined["ids.csv"]
    store = feedback.read_store(ws.feedback_store)
    assert store[["Review", "chosen_as"]].values.tolist() == [["café was cold", "unknown"]]


def test_a_label_under_a_queued_id_but_for_another_text_is_not_taken_for_the_queues_pick(tmp_path):
    ws = workspace(tmp_path, label_budget=1)
    serve(ws, ["the queued text"], [0.5], "r")
    (queued,) = pd.read_csv(cycle_queue.write_queue(ws, "c1", verdict=None).path, dtype=str)["request_id"]
    ws.incoming.mkdir(parents=True)
    (ws.incoming / "labels.csv").write_text(f"request_id,Review,Sentiment\n{queued},some other text,negative\n")
    assert feedback.ingest_workspace(ws, find_texts=queue.text_finder(ws.to_label)).rows_added == 1
    assert feedback.read_store(ws.feedback_store)["chosen_as"].tolist() == ["unknown"]


@pytest.mark.parametrize(("share", "expected"), [(0.0, {"uncertain": 4}), (0.5, {"random": 2, "uncertain": 2})])
def test_the_random_share_of_an_active_queue_is_a_setting(tmp_path, share, expected):
    ws = workspace(tmp_path, label_budget=4, label_random_share=share)
    serve(ws, [f"text {word}" for word in "abcdef"], [0.5, 0.6, 0.7, 0.8, 0.9, 0.95], "r")
    assert cycle_queue.write_queue(ws, "c1", verdict=None).by_reason == expected


@pytest.mark.parametrize("budget", [0])
def test_a_budget_of_zero_asks_nothing_but_moves_on(tmp_path, budget):
    ws = workspace(tmp_path, label_budget=budget)
    serve(ws, ["unsure"], [0.5], "r")
    assert cycle_queue.write_queue(ws, "c1", verdict=None).path is None
    assert not ws.to_label.exists()


def test_a_label_for_a_request_id_queued_with_two_texts_is_quarantined_not_guessed(tmp_path):
    ws = workspace(tmp_path)
    ws.to_label.mkdir(parents=True)
    (ws.to_label / "c1.csv").write_text("request_id,Review\nreused,monday's text\n")
    (ws.to_label / "c2.csv").write_text("request_id,Review\nreused,tuesday's text\n")
    ws.incoming.mkdir(parents=True)
    (ws.incoming / "labels.csv").write_text("request_id,Sentiment\nreused,negative\n")
    report = feedback.ingest_workspace(ws, find_texts=queue.text_finder(ws.to_label))
    assert report.rows_added == 0 and "queued with different texts ('reused')" in report.quarantined["labels.csv"]
