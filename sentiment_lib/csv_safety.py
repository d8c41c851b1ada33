"""CSV formula-injection protection for files that people open in a spreadsheet.

A spreadsheet runs a cell that starts with ``=``, ``+``, ``-`` or ``@`` as a formula (a tab or a carriage
return in front can hide the sign), so a review like ``=HYPERLINK("http://evil", "click")`` in a CSV we
write could run on an analyst's machine. Following the OWASP guidance, such cells get a leading ``'``,
which spreadsheets show as text. This changes the data (``-5`` becomes ``'-5``), so it is opt-in.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from sentiment_lib.errors import DataValidationError

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
ESCAPE = "'"


def neutralise_cell(value: object) -> object:
    """``value`` with a leading ``'`` if it is a string a spreadsheet would run as a formula; else unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return ESCAPE + value
    return value


def neutralise_formulas(
    frame: pd.DataFrame, columns: Iterable[str] | None = None, header: bool = False
) -> pd.DataFrame:
    """A copy of ``frame`` whose string cells cannot run as spreadsheet formulas (see the module docstring).

    Args:
        frame: the rows to write; it is not changed.
        columns: the columns to protect (default: every column holding strings). Non-string cells (numbers,
            missing values) are left as they are: a spreadsheet reads them as values, not formulas.
        header: protect the column names too (they are cells of the written file; an uploaded CSV's header
            is as untrusted as its rows).

    Raises:
        DataValidationError: ``columns`` names a column the frame does not have.
    """
    wanted = None if columns is None else list(columns)
    if wanted is not None:
        missing = [c for c in wanted if c not in frame.columns]
        if missing:
            raise DataValidationError(f"Cannot neutralise formulas: no column(s) {missing} in {list(frame.columns)}")
    out = frame.copy()
    # by position, so that a frame with two columns of the same name is handled too
    for position, name in enumerate(frame.columns):
        column = frame.iloc[:, position]
        chosen = name in wanted if wanted is not None else pd.api.types.is_string_dtype(column.dtype)
        if chosen:
            out.isetitem(position, column.map(neutralise_cell))
    if header:
        out.columns = [neutralise_cell(name) for name in frame.columns]
    return out
