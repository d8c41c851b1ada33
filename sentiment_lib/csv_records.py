"""Whole CSV records read from bytes, one at a time: the one scanner for resuming a batch at a byte offset
and for finding the torn tail an interrupted append left at the end of a CSV log.
"""

from __future__ import annotations

import re
from io import BytesIO
from typing import BinaryIO

from sentiment_lib.errors import DataValidationError

UTF8_BOM = b"\xef\xbb\xbf"

# One CSV record as pandas' C parser reads it (comma, double quote, a quote doubled inside quotes): a field
# is quoted only if it starts with a quote, and after its closing quote the rest of the field is literal; a
# record ends at \r\n, \n or \r outside quotes, or at the end of the file. The quantifiers are possessive:
# nothing backtracks, so a quote still open at the end of the bytes read fails instead of matching less.
_FIELD = rb'(?:"(?:[^"]++|"")*+"[^,\r\n]*+|[^",\r\n][^,\r\n]*+|)'
_RECORD = re.compile(_FIELD + rb"(?:," + _FIELD + rb")*+(?:\r\n|\n|\r|\Z)")


class CsvRecords:
    """The whole records of a binary CSV stream, one at a time, with where the next one starts.

    ``offset`` is a byte offset in the stream and ``line`` a line number (1-based, counting the newlines
    inside quoted fields); both always point at the start of a record, so either can be saved and resumed.
    Memory holds one block of the file (or one record, if a record is longer).
    """

    def __init__(self, stream: BinaryIO, source: str, block_bytes: int = 1 << 20):
        self.stream = stream
        self.source = source
        self.block_bytes = block_bytes
        # pandas drops a byte-order mark before the header; so do we, or the first column's name would change
        self.seek(len(UTF8_BOM) if stream.read(len(UTF8_BOM)) == UTF8_BOM else 0, 1)

    def seek(self, offset: int, line: int) -> None:
        """Continue reading at ``offset``, the start of the record on ``line``."""
        self.stream.seek(offset)
        self.offset, self.line = offset, line
        self._buffer, self._pos, self._eof = b"", 0, False

    def next(self) -> bytes | None:
        """The next record, line end included; None at the end of the file.

        Raises:
            DataValidationError: the file ends inside a quoted field.
        """
        while True:
            match = _RECORD.match(self._buffer, self._pos)
            # a match that reaches the end of the bytes read may go on in the next block (a field, or \r\n)
            if match and (match.end() < len(self._buffer) or self._eof):
                break
            if self._eof:
                raise DataValidationError(
                    f"{self.source} is not a well-formed CSV: the quoted field opened in the record at line "
                    f"{self.line} is never closed"
                )
            self._read_block()
        record = match.group()
        self._pos = match.end()
        self.offset += len(record)
        self.line += record.count(b"\n")
        return record or None

    def _read_block(self) -> None:
        # at least as much again as is held: a record longer than a block is rescanned a few times, not hundreds
        block = self.stream.read(max(self.block_bytes, len(self._buffer) - self._pos))
        self._buffer, self._pos, self._eof = self._buffer[self._pos :] + block, 0, not block


def csv_records_end(data: bytes) -> int:
    """The offset just past the last whole record of ``data``: one that ends with its line end.

    Whatever follows is a torn tail: a record an interrupted append cut short, inside a quoted field or not.
    """
    records, end = CsvRecords(BytesIO(data), "the data"), 0
    try:
        while (record := records.next()) is not None and record.endswith((b"\n", b"\r")):
            end = records.offset
    except DataValidationError:  # a quoted field still open at the end: torn
        pass
    return end
