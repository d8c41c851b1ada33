"""CSV formula-injection protection: cells a spreadsheet would run as formulas get a leading quote."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from sentiment_lib.csv_safety import neutralise_cell, neutralise_formulas
from sentiment_lib.errors import DataValidationError


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ('=HYPERLINK("http://x.test","click")', '\'=HYPERLINK("http://x.test","click")'),
        ("+1+1", "'+1+1"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1:A2)", "'@SUM(A1:A2)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("A good film = fun", "A good film = fun"),  # only the first character counts
        (" =1", " =1"),
        ("", ""),
        ("'=already", "'=already"),
    ],
)
def test_a_cell_is_escaped_only_when_it_starts_a_formula(cell, expected):
    assert neutralise_cell(cell) == expected


def test_every_text_column_is_protected_and_the_input_is_left_alone():
    frame = pd.DataFrame(
        {
            "Review": ["=cmd|' /C calc'!A0", "fine", None],
            "note": pd.Series(["-x", "@y", "z"], dtype=object),
            "score": [-1.5, 2.0, np.nan],  # numbers are values to a spreadsheet, not formulas
        }
    )
    before = frame.copy()
    safe = neutralise_formulas(frame)
    assert list(safe["Review"].iloc[:2]) == ["'=cmd|' /C calc'!A0", "fine"] and pd.isna(safe["Review"].iloc[2])
    assert list(safe["note"]) == ["'-x", "'@y", "z"]
    assert safe["score"].equals(frame["score"])
    assert frame.equals(before)  # a copy: the caller's frame is unchanged


def test_only_the_named_columns_when_asked():
    frame = pd.DataFrame({"Review": ["=a"], "id": ["=b"]})
    safe = neutralise_formulas(frame, columns=["Review"])
    assert (safe["Review"].iloc[0], safe["id"].iloc[0]) == ("'=a", "=b")
    with pytest.raises(DataValidationError, match=r"no column\(s\) \['text'\]"):
        neutralise_formulas(frame, columns=["text"])


def test_two_columns_with_one_name_are_both_protected():
    frame = pd.DataFrame([["=a", "=b"]], columns=["x", "x"])
    assert neutralise_formulas(frame).iloc[0].tolist() == ["'=a", "'=b"]


def test_the_written_csv_reads_back_as_text():
    safe = neutralise_formulas(pd.DataFrame({"Review": ["=1+1", 'say "=2"']}))
    written = safe.to_csv(index=False)
    assert written == 'Review\n\'=1+1\n"say ""=2"""\n'
    assert pd.read_csv(io.StringIO(written))["Review"].tolist() == ["'=1+1", 'say "=2"']


def test_the_header_is_protected_when_asked():
    frame = pd.DataFrame({"=HYPERLINK(1)": ["=a"], "Review": ["b"]})
    assert list(neutralise_formulas(frame, header=True).columns) == ["'=HYPERLINK(1)", "Review"]
    assert list(neutralise_formulas(frame).columns) == ["=HYPERLINK(1)", "Review"]
