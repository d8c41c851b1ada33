"""Atomic writes and the one CSV error vocabulary."""

from __future__ import annotations

import os
import stat

import pandas as pd
import pytest

from sentiment_lib.data import dataset, importers
from sentiment_lib.errors import DataValidationError
from sentiment_lib.inference.batch import run_batch
from sentiment_lib.io import read_csv_strict, read_json, write_json_atomic, write_text_atomic

NOT_UTF8 = b"Review,Sentiment\ngood,positive\nbad \xff film,negative\n"


def test_an_atomic_write_replaces_the_file_whole_and_leaves_nothing_behind(tmp_path):
    path = tmp_path / "deep" / "state.json"
    write_json_atomic(path, {"n": 1})
    write_json_atomic(path, {"n": 2})
    assert read_json(path, None) == {"n": 2}
    assert [p.name for p in path.parent.iterdir()] == ["state.json"]


def test_written_files_get_the_usual_mode_not_owner_only(tmp_path):
    umask = os.umask(0o022)
    os.umask(umask)
    path = write_text_atomic(tmp_path / "index.html", "<html></html>")
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask


def test_a_failed_write_keeps_the_previous_file(tmp_path):
    path = tmp_path / "state.json"
    write_json_atomic(path, {"n": 1})
    with pytest.raises(TypeError):
        write_json_atomic(path, {"n": object()})  # not serialisable: fails before anything is replaced
    assert read_json(path, None) == {"n": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]


def test_a_torn_json_file_is_a_clear_error(tmp_path):
    path = write_text_atomic(tmp_path / "cycle.json", '{"cycle": "c1", "sta')
    with pytest.raises(DataValidationError, match=r"cycle\.json is not valid JSON"):
        read_json(path, {})
    assert read_json(tmp_path / "missing.json", {"default": True}) == {"default": True}


def test_every_reader_names_the_same_problem_the_same_way(tmp_path):
    path = tmp_path / "reviews.csv"
    path.write_bytes(NOT_UTF8)
    expected = "is not valid UTF-8: undecodable byte 0xff at"
    with pytest.raises(DataValidationError, match=f"{path}.*{expected} line 3"):
        dataset.load_reviews(path)
    with pytest.raises(DataValidationError, match=f"{expected} line 3"):
        importers.import_table(path, "Review", "Sentiment")
    with pytest.raises(DataValidationError, match=f"the upload {expected} line 3"):
        read_csv_strict(NOT_UTF8, name="the upload")
    with pytest.raises(DataValidationError, match=expected):
        run_batch(None, path, tmp_path / "out.csv", progress=False)


def test_empty_and_malformed_csv(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("  \n")
    with pytest.raises(DataValidationError, match=r"empty\.csv is empty: expected a header line"):
        read_csv_strict(empty)
    ragged = tmp_path / "ragged.csv"
    ragged.write_text('Review,Sentiment\n"unclosed,positive\n')
    with pytest.raises(DataValidationError, match=r"ragged\.csv is not a well-formed CSV"):
        read_csv_strict(ragged)
    assert read_csv_strict(b"Review\n\nfine\n").equals(pd.DataFrame({"Review": ["fine"]}))


def test_csv_records_end_finds_the_last_whole_record():
    from sentiment_lib.csv_records import csv_records_end

    whole = b'Review,Sentiment\n"a ""quoted"" one\nover two lines",positive\nplain,negative\n'
    assert csv_records_end(whole) == len(whole)
    assert csv_records_end(whole + b'"torn\n') == len(whole)  # the newline is inside an open quote
    assert csv_records_end(whole + b"torn,neg") == len(whole)
    assert csv_records_end(b"Review,Sent") == 0


def test_appending_after_a_torn_tail_cuts_it_and_keeps_the_records_whole(tmp_path):
    from sentiment_lib.io import append_csv_records, read_csv_records

    path = tmp_path / "log.csv"
    assert append_csv_records(path, b"1,a\n", b"n,x\n") == 0
    with path.open("ab") as handle:
        handle.write(b'2,"b is cut')
    assert read_csv_records(path, "the log")[1] == 11
    assert append_csv_records(path, b"3,c\n", b"n,x\n") == 11
    frame, torn = read_csv_records(path, "the log")
    assert (frame["n"].tolist(), frame["x"].tolist(), torn) == (["1", "3"], ["a", "c"], 0)
