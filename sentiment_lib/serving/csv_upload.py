"""A CSV sent to ``/batch_predict``, checked from its header line before the body is parsed.

Parsing is what costs: a 400 KB body whose header has 200,000 columns took seconds and a gigabyte to
parse whole. So the header line alone is read first (its column count and the text column), and the body
is parsed only when the header passed: then the work is bounded by the bytes of the body and a few columns,
which the caller gets back as sent, with the answers beside them.
"""

from __future__ import annotations

import csv
import io

import pandas as pd

from sentiment_lib.data.schema import TEXT_COLUMN
from sentiment_lib.errors import DataValidationError
from sentiment_lib.io import CSV_READ_ERRORS, csv_error


def header_columns(text: str, max_columns: int, source: str, cut: bool = False) -> list[str]:
    """The column names of the CSV's first record in ``text`` (``cut``: the header goes on past it).

    Raises:
        DataValidationError: more than ``max_columns`` columns, no ``Review`` column, or no header.
    """
    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader)
    except StopIteration:
        raise DataValidationError(f"{source} is empty: it needs a header line with a {TEXT_COLUMN!r} column") from None
    except csv.Error as err:
        raise DataValidationError(f"{source}: its header line is not valid CSV ({err})") from None
    if len(header) > max_columns:
        raise DataValidationError(
            f"{source} has {'at least ' if cut else ''}{len(header)} columns in its header; at most {max_columns} "
            "are accepted "
            f"(send the {TEXT_COLUMN!r} column and a few of your own)"
        )
    if TEXT_COLUMN not in header:
        shown = [name[:40] for name in header[:10]]
        raise DataValidationError(f"{source} has no {TEXT_COLUMN!r} column; found {shown}")
    return header


def first_line(text: str, max_chars: int) -> tuple[str, bool]:
    """The text up to its first line break, looking at no more than ``max_chars`` characters, and whether it
    was cut there (a header with a quoted line break is cut short too, and ``csv`` says it is not valid)."""
    end = text.find("\n", 0, max_chars)
    return (text[:end], False) if end >= 0 else (text[:max_chars], len(text) > max_chars)


def read_upload(raw: bytes, max_columns: int, source: str = "the uploaded CSV") -> pd.DataFrame:
    """The rows of an uploaded CSV as strings, after its header passed ``header_columns``.

    Raises:
        DataValidationError: not UTF-8, a header refused, or rows that do not parse.
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise csv_error(source, err, raw) from None
    # a legal header is at most max_columns names of a few hundred characters each
    line, cut = first_line(text, max_columns * 512)
    header_columns(line, max_columns, source, cut)
    try:
        return pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    except CSV_READ_ERRORS as err:
        raise csv_error(source, err) from None
