"""Replay a labelled stream (the airline tweets, or any canonical CSV) into ``data/incoming/``, a batch per cycle.

Rows go out in time order (``tweet_created`` / ``timestamp``). The position is kept in ``state/replay.json``
per source, so a stopped replay continues where it was.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from sentiment_lib.data import importers
from sentiment_lib.data.dataset import validate_reviews
from sentiment_lib.errors import DataValidationError
from sentiment_lib.io import read_csv_strict, read_json, write_csv_atomic, write_json_atomic

AIRLINE_COLUMNS = {"text", "airline_sentiment", "tweet_created"}


def load_stream(source: str | Path) -> pd.DataFrame:
    """The source's labelled rows in time order: the airline tweets CSV, or a CSV with Review, Sentiment.

    Raises:
        DataValidationError: the file is missing or breaks the data contract.
    """
    source = Path(source)
    frame = read_csv_strict(source)
    if set(frame.columns) >= AIRLINE_COLUMNS:
        return importers.import_airline(source).frame
    clean, _ = validate_reviews(frame, source=source.name, require_both_classes=False)
    if "timestamp" in clean:
        clean = clean.sort_values("timestamp", kind="stable")
    return clean.reset_index(drop=True)


class Replay:
    """Drops the next ``per_cycle`` rows of ``source`` into ``incoming`` each time it is called."""

    def __init__(self, source: str | Path, incoming: str | Path, state_path: str | Path, per_cycle: int):
        if per_cycle <= 0:
            raise DataValidationError(f"--per-cycle must be > 0, got {per_cycle}")
        self.source = Path(source).resolve()
        self.incoming = Path(incoming)
        self.state_path = Path(state_path)
        self.per_cycle = per_cycle
        self.stream = load_stream(self.source)

    @property
    def position(self) -> int:
        return int(read_json(self.state_path, {}).get(str(self.source), 0))

    def _save_position(self, position: int) -> None:
        write_json_atomic(self.state_path, {**read_json(self.state_path, {}), str(self.source): position})

    @property
    def remaining(self) -> int:
        return len(self.stream) - self.position

    def drop_next(self) -> Path | None:
        """Write the next batch as ``incoming/replay-<first>-<last>.csv``; None when the stream is used up."""
        start = self.position
        batch = self.stream.iloc[start : start + self.per_cycle]
        if batch.empty:
            return None
        name = f"replay-{start:06d}-{start + len(batch) - 1:06d}.csv"
        # the temporary file's name does not end in .csv: ingestion never sees half a file
        write_csv_atomic(batch, self.incoming / name)
        self._save_position(start + len(batch))
        return self.incoming / name
