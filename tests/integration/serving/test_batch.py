"""`runner.py batch`: streaming CSV inference, markers for empty reviews, crash-safe output and --resume."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.helpers import run_runner, sst2

pytestmark = pytest.mark.slow


def make_input(path, rows: int) -> pd.DataFrame:
    texts = sst2("test")["Review"].tolist()
    frame = pd.DataFrame(
        {
            "id": range(rows),
            "Review": [texts[i % len(texts)] if i % 97 else "" for i in range(rows)],
            "note": [f'say "hi", row {i}' for i in range(rows)],
        }
    )
    frame.to_csv(path, index=False)
    return frame


def test_batch_appends_predictions_and_marks_empty_reviews(tmp_path, served_workspace):
    source = make_input(tmp_path / "in.csv", 1000)
    done = run_runner(
        "batch",
        "--input_path",
        str(tmp_path / "in.csv"),
        "--output_path",
        str(tmp_path / "out.csv"),
        "--chunk-rows",
        "300",
        workspace=served_workspace,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    out = pd.read_csv(tmp_path / "out.csv", dtype=str, keep_default_na=False)
    assert list(out.columns) == ["id", "Review", "note", "sentiment", "confidence"]
    assert out[["id", "Review", "note"]].equals(source.astype(str))
    empty = source["Review"] == ""
    assert (out.loc[empty, "sentiment"] == "no_text").all() and (out.loc[empty, "confidence"] == "").all()
    assert set(out.loc[~empty, "sentiment"]) <= {"positive", "negative"}
    assert f"wrote 1000 rows to {tmp_path / 'out.csv'}" in done.stdout
    assert f"{int(empty.sum())} empty or missing reviews marked sentiment='no_text'" in done.stdout
    assert "rows/s" in done.stderr and "1000/1000" in done.stderr  # the progress bar, with its total


@pytest.mark.parametrize(
    ("content", "extra", "message"),
    [
        ("text\nhello\n", [], "has no column 'Review'; found ['text'] (see --text-column)"),
        (b"Review\ncaf\xe9\n", [], "is not valid UTF-8"),
        ("Review\n", [], "has a header but no rows"),
        ("Review,sentiment\nhi,positive\n", [], "already has column(s) ['sentiment']"),
        ("Review\nhi\n", ["--resume"], "Nothing to resume"),
    ],
)
def test_bad_input_is_explained(tmp_path, served_workspace, content, extra, message):
    source = tmp_path / "in.csv"
    source.write_bytes(content if isinstance(content, bytes) else content.encode())
    done = run_runner(
        "batch",
        "--input_path",
        str(source),
        "--output_path",
        str(tmp_path / "o.csv"),
        *extra,
        workspace=served_workspace,
    )
    assert done.returncode == 2
    assert message in done.stderr
    assert not (tmp_path / "o.csv").exists()


def test_existing_output_is_never_overwritten(tmp_path, served_workspace):
    (tmp_path / "in.csv").write_text("Review\nhi\n")
    (tmp_path / "o.csv").write_text("precious\n")
    done = run_runner(
        "batch",
        "--input_path",
        str(tmp_path / "in.csv"),
        "--output_path",
        str(tmp_path / "o.csv"),
        workspace=served_workspace,
    )
    assert done.returncode == 2 and "exists" in done.stderr
    assert (tmp_path / "o.csv").read_text() == "precious\n"
