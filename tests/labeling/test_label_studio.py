"""The Label Studio round trip without a server: the queue read, tasks built, labels chosen, errors worded.

The round trip against a real server is tests/integration/test_label_studio.py; the annotations here are
plain data shaped as the server's task list gives them.
"""

from __future__ import annotations

import sys
from types import SimpleNamespace

import pandas as pd
import pytest

from sentiment_lib.errors import DataValidationError
from sentiment_lib.labeling import label_studio
from sentiment_lib.labeling.label_studio import INCOMING_COLUMNS, LabelStudioError, PullResult
from sentiment_lib.serving.process import free_port
from sentiment_lib.settings import LabelStudioSettings
from sentiment_lib.workspace import Workspace


class Names:
    def name(self, completed_by) -> str:
        return f"user-{completed_by}"


def annotation(id_: int, choices: list[str], updated_at: str, cancelled: bool = False) -> dict:
    result = [{"from_name": "sentiment", "to_name": "text", "type": "choices", "value": {"choices": choices}}]
    return {"id": id_, "result": [] if cancelled else result, "was_cancelled": cancelled, "completed_by": 7,
            "created_at": updated_at, "updated_at": updated_at}  # fmt: skip


def task(request_id: str, *annotations: dict) -> SimpleNamespace:
    return SimpleNamespace(id=1, data={"text": "Nice", "request_id": request_id}, annotations=list(annotations))


def row_of(t: SimpleNamespace, pulled: frozenset[str] = frozenset()) -> tuple[list[str] | None, PullResult]:
    result = PullResult(project_id=1)
    return label_studio._label_row(t, set(pulled), result, Names()), result  # type: ignore[arg-type]


def test_no_queue_yet_is_said_plainly(tmp_path):
    with pytest.raises(LabelStudioError, match="No labelling queue yet"):
        label_studio.read_queue(Workspace(tmp_path))


def test_the_queue_is_read_across_files_once_per_request_id(tmp_path):
    ws = Workspace(tmp_path)
    ws.to_label.mkdir(parents=True)
    pd.DataFrame({"request_id": ["a", "b"], "Review": ["one", "two"], "why": ["random", "uncertain"]}).to_csv(
        ws.to_label / "c1.csv", index=False
    )
    pd.DataFrame({"request_id": ["b", "c", ""], "Review": ["two again", "three", "no id"]}).to_csv(
        ws.to_label / "c2.csv", index=False
    )
    queue, files = label_studio.read_queue(ws)
    # "b" was queued with two texts: its label could not say which, so it is not pushed
    assert files == 2 and queue["request_id"].tolist() == ["a", "c"]
    task = label_studio.task_of(queue.iloc[0].to_dict())
    assert task == {"text": "one", "request_id": "a", "why": "random", "queue": "c1.csv"}


def test_a_queue_file_without_request_ids_is_refused(tmp_path):
    ws = Workspace(tmp_path)
    ws.to_label.mkdir(parents=True)
    (ws.to_label / "c1.csv").write_text("Review\nhello\n")
    with pytest.raises(DataValidationError, match=r"missing column\(s\) \['request_id'\]"):
        label_studio.read_queue(ws)


def test_the_latest_submitted_annotation_is_the_label():
    row, _ = row_of(
        task(
            "r1",
            annotation(1, ["negative"], "2026-12-01T10:00:00Z"),
            annotation(2, ["Positive"], "2026-12-02T10:00:00.5Z"),
            annotation(3, [], "2026-12-03T10:00:00Z", cancelled=True),
        )
    )
    assert row == ["r1", "Nice", "positive", "user-7", "2026-12-02T10:00:00+00:00"]
    assert len(row) == len(INCOMING_COLUMNS)


def test_the_latest_annotation_is_found_by_time_whatever_the_format_of_its_stamp():
    # as strings "...10:00:00Z" sorts after "...10:00:00.5Z", though it is half a second earlier
    row, _ = row_of(task("r1", annotation(1, ["negative"], "2026-12-02T10:00:00.5Z"),
                         annotation(2, ["positive"], "2026-12-02T10:00:00Z")))  # fmt: skip
    assert row[2] == "negative"


def test_skipped_unfinished_and_pulled_tasks_give_no_row():
    row, result = row_of(task("r1", annotation(1, [], "2026-12-01T10:00:00Z", cancelled=True)))
    assert row is None and (result.skipped, result.unfinished) == (1, 0)
    row, result = row_of(task("r2"))
    assert row is None and (result.skipped, result.unfinished) == (0, 1)
    row, result = row_of(task("r3", annotation(1, ["positive"], "2026-12-01T10:00:00Z")), frozenset({"r3"}))
    assert row is None and result == PullResult(project_id=1)


@pytest.mark.parametrize("choices", [["neutral"], ["positive", "negative"], []])
def test_a_label_other_than_one_of_positive_or_negative_is_reported(choices):
    row, result = row_of(task("r1", annotation(5, choices, "2026-12-01T10:00:00Z")))
    assert row is None and len(result.problems) == 1
    assert "request_id r1" in result.problems[0] and "annotation 5" in result.problems[0]


def test_labels_are_written_whole_under_a_new_name_each_time(tmp_path):
    ws = Workspace(tmp_path)
    frame = pd.DataFrame([["r1", "Nice", "positive", "a@b.c", "2026-12-01T10:00:00+00:00"]], columns=INCOMING_COLUMNS)
    first, second = label_studio.write_incoming(ws, frame), label_studio.write_incoming(ws, frame)
    assert first != second and [p.name for p in sorted(ws.incoming.iterdir())] == sorted([first.name, second.name])
    assert first.name.startswith("label-studio-") and pd.read_csv(first).columns.tolist() == INCOMING_COLUMNS
    label_studio.remember_pulled(ws, {"r1"})
    assert label_studio.pulled_request_ids(ws) == {"r1"}


def test_the_api_key_is_read_from_the_environment_and_never_shown():
    settings = LabelStudioSettings.from_environment({"LABEL_STUDIO_API_KEY": "s3cret", "LABEL_STUDIO_URL": "http://x"})
    assert (settings.api_key, settings.url) == ("s3cret", "http://x")
    assert "s3cret" not in repr(settings)
    assert LabelStudioSettings.from_environment({}).url == "http://127.0.0.1:8080"


def test_connecting_says_what_is_missing_or_unreachable(monkeypatch):
    with pytest.raises(LabelStudioError, match="LABEL_STUDIO_API_KEY is not set"):
        label_studio.connect(LabelStudioSettings(api_key=""))
    nobody = LabelStudioSettings(url=f"http://127.0.0.1:{free_port()}", api_key="k", timeout_seconds=5)
    with pytest.raises(LabelStudioError, match=r"Cannot reach Label Studio at http://127\.0\.0\.1:.*is it running"):
        label_studio.connect(nobody)
    monkeypatch.setitem(sys.modules, "label_studio_sdk", None)  # as if the extra were not installed
    with pytest.raises(LabelStudioError, match=r"pip install 'sentiment-lib\[labeling\]'"):
        label_studio.connect(nobody)
