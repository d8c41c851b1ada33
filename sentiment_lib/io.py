"""Safe file writes and strict CSV reading, with one error vocabulary for every CSV the project reads.

Every write of state or reports goes through :func:`write_bytes_atomic` (temp file in the same folder,
fsync, rename): a crash or a concurrent reader sees the old file or the new one, never half of one.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import tempfile
from io import BytesIO, StringIO
from pathlib import Path
from typing import Any

import pandas as pd

from sentiment_lib.csv_records import csv_records_end
from sentiment_lib.errors import DataValidationError

log = logging.getLogger(__name__)

# mkstemp creates files readable by their owner only; written files get the usual mode instead (666 less the
# umask), read once here because reading it means setting it, which is not safe once threads run
_UMASK = os.umask(0o022)
os.umask(_UMASK)


# what pandas raises for a CSV it cannot read; csv_error turns each into the project's message
CSV_READ_ERRORS = (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError)


def write_bytes_atomic(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file, fsync and a rename; make the folder if needed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(handle, 0o666 & ~_UMASK)
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_text_atomic(path: str | Path, text: str) -> Path:
    return write_bytes_atomic(path, text.encode("utf-8"))


def write_json_atomic(path: str | Path, data: Any) -> Path:
    return write_text_atomic(path, json.dumps(data, indent=2, ensure_ascii=False))


def write_csv_atomic(frame: pd.DataFrame, path: str | Path) -> Path:
    """``frame`` as a UTF-8 CSV without its index."""
    return write_text_atomic(path, frame.to_csv(index=False))


def write_figure_atomic(figure: Any, path: str | Path, dpi: int = 80) -> Path:
    """A matplotlib figure as a PNG file."""
    buffer = BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    return write_bytes_atomic(path, buffer.getvalue())


def append_csv_records(path: str | Path, records: bytes, header: bytes) -> int:
    """Append whole CSV ``records`` (``header`` first in a new file), fsync'd; return the torn bytes cut.

    A torn tail left by an append a crash interrupted is cut first, so the file always ends on a record
    boundary and the new records are never glued onto half of an old one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+b") as handle:
        handle.seek(0)
        data = handle.read()
        end = csv_records_end(data)
        if end < len(data):
            handle.truncate(end)
        handle.seek(0, os.SEEK_END)
        handle.write((header if end == 0 else b"") + records)
        handle.flush()
        os.fsync(handle.fileno())
    return len(data) - end


def read_csv_records(path: str | Path, what: str) -> tuple[pd.DataFrame, int]:
    """A CSV written by :func:`append_csv_records` and the number of torn bytes at its end, which are skipped.

    Raises:
        DataValidationError: the whole records do not read as CSV.
    """
    data = Path(path).read_bytes()
    end = csv_records_end(data)
    torn = len(data) - end
    if torn:
        log.warning("%s ends with %d bytes of a record cut short by a crash; they are skipped", what, torn)
    if end == 0:
        raise csv_error(path, pd.errors.EmptyDataError())
    return read_csv_strict(data[:end], name=str(path)), torn


def read_json(path: str | Path, default: Any) -> Any:
    """The file's content, or ``default`` when it does not exist yet.

    Raises:
        DataValidationError: the file exists but is not valid JSON.
    """
    path = Path(path)
    if not path.is_file():
        return default
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise DataValidationError(f"{path} is not valid JSON ({err}); move it away to start afresh") from None


def csv_error(source: str | Path, err: Exception, data: bytes | None = None) -> DataValidationError:
    """The one message for a CSV that cannot be read: which file, what is wrong, and where.

    ``data`` (the raw bytes, when the caller has them) lets a decoding error name its line.
    """
    if isinstance(err, UnicodeDecodeError):
        where = f"byte offset {err.start}"
        if data is not None:
            line = data[: err.start].count(b"\n") + 1
            where = f"line {line} ({where})"
        bad = err.object[err.start : err.start + 1].hex() if isinstance(err.object, bytes | bytearray) else "?"
        return DataValidationError(
            f"{source} is not valid UTF-8: undecodable byte 0x{bad} at {where}. Re-save it as UTF-8."
        )
    if isinstance(err, pd.errors.EmptyDataError):
        return DataValidationError(f"{source} is empty: expected a header line naming its columns")
    return DataValidationError(f"{source} is not a well-formed CSV: {err}")


def read_csv_strict(
    source: str | Path | bytes, sep: str = ",", quoting: int = csv.QUOTE_MINIMAL, name: str | None = None
) -> pd.DataFrame:
    """Read a UTF-8 CSV (a path, or the bytes of an upload) as strings; empty cells stay empty strings.

    Raises:
        DataValidationError: the file is missing, empty, not UTF-8 or not parseable as CSV.
    """
    if isinstance(source, bytes):
        raw, label = source, name or "the uploaded CSV"
    else:
        path = Path(source)
        if not path.is_file():
            raise DataValidationError(f"Data file not found: {path}")
        raw, label = path.read_bytes(), name or str(path)
    if not raw.strip():
        raise csv_error(label, pd.errors.EmptyDataError())
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise csv_error(label, err, raw) from None
    return parse_csv_text(text, label, sep, quoting)


def parse_csv_text(text: str, source: str, sep: str = ",", quoting: int = csv.QUOTE_MINIMAL) -> pd.DataFrame:
    """Parse decoded CSV text as strings.

    Raises:
        DataValidationError: not parseable as CSV.
    """
    try:
        return pd.read_csv(StringIO(text), sep=sep, quoting=quoting, dtype=str, keep_default_na=False)
    except CSV_READ_ERRORS as err:
        raise csv_error(source, err) from None


def iter_csv_chunks(path: str | Path, chunk_rows: int, skip_rows: int = 0):
    """Yield the CSV's rows ``chunk_rows`` at a time as string frames (streaming: constant memory).

    Raises:
        DataValidationError: empty, not UTF-8, or not parseable (possibly after some chunks were yielded).
    """
    try:
        reader = pd.read_csv(
            path,
            dtype=str,
            keep_default_na=False,
            chunksize=chunk_rows,
            skiprows=range(1, skip_rows + 1) if skip_rows else None,
            encoding="utf-8",
        )
        yield from reader
    except CSV_READ_ERRORS as err:
        raise csv_error(path, err) from None
