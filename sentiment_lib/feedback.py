"""Ingest newly labelled feedback: ``data/incoming/*.csv`` into one feedback store, nothing ever deleted.

Each file is validated like training data. A good file's new rows (duplicates of stored reviews are
counted and skipped) are appended to the store with their arrival time and source file, and the file is
moved to ``archive/``. A bad file is moved to ``quarantine/`` with a ``.reason.txt`` beside it.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from sentiment_lib.data import LABEL_COLUMN, TEXT_COLUMN, read_csv_strict, validate_reviews
from sentiment_lib.errors import DataValidationError

log = logging.getLogger(__name__)

STORE_COLUMNS = [TEXT_COLUMN, LABEL_COLUMN, "timestamp", "arrived_at", "source_file"]


@dataclass
class IngestReport:
    files: list[str] = field(default_factory=list)
    rows_added: int = 0
    duplicates_skipped: int = 0
    quarantined: dict[str, str] = field(default_factory=dict)  # file name -> reason


def _free_name(folder: Path, name: str) -> Path:
    """``folder/name``, or ``name`` with a counter if a file of that name was archived before."""
    target, n = folder / name, 1
    while target.exists():
        target = folder / f"{Path(name).stem}.{n}{Path(name).suffix}"
        n += 1
    return target


def _validate_file(path: Path) -> pd.DataFrame:
    # a one-class file is fine for feedback (a day of complaints)
    clean, _ = validate_reviews(read_csv_strict(path), source=path.name, require_both_classes=False)
    return clean


def quarantine(path: Path, quarantine_dir: Path, reason: str) -> Path:
    quarantine_dir.mkdir(parents=True, exist_ok=True)
    target = _free_name(quarantine_dir, path.name)
    shutil.move(str(path), target)
    target.with_name(target.name + ".reason.txt").write_text(reason + "\n")
    log.warning("Quarantined %s: %s", path.name, reason)
    return target


def read_store(store_path: str | Path) -> pd.DataFrame:
    """The feedback store, oldest rows first (empty, with the store's columns, before any ingestion)."""
    store_path = Path(store_path)
    if not store_path.is_file():
        return pd.DataFrame(columns=STORE_COLUMNS)
    return pd.read_csv(store_path, dtype=str, keep_default_na=False)


def ingest_incoming(
    incoming_dir: str | Path,
    store_path: str | Path,
    archive_dir: str | Path,
    quarantine_dir: str | Path,
    now: datetime | None = None,
) -> IngestReport:
    """Ingest every ``*.csv`` in ``incoming_dir``, oldest name first; see the module docstring."""
    incoming_dir, store_path = Path(incoming_dir), Path(store_path)
    archive_dir, quarantine_dir = Path(archive_dir), Path(quarantine_dir)
    arrived = (now or datetime.now(UTC)).isoformat(timespec="seconds")
    report = IngestReport()
    known = set(read_store(store_path)[TEXT_COLUMN])
    for path in sorted(incoming_dir.glob("*.csv")):
        try:
            rows = _validate_file(path)
        except DataValidationError as err:
            report.quarantined[path.name] = str(err)
            quarantine(path, quarantine_dir, str(err))
            continue
        new = rows[~rows[TEXT_COLUMN].isin(known)].copy()
        report.duplicates_skipped += len(rows) - len(new)
        new["timestamp"] = new.get("timestamp", "")
        new["arrived_at"], new["source_file"] = arrived, path.name
        _append(store_path, new[STORE_COLUMNS])
        known.update(new[TEXT_COLUMN])
        report.rows_added += len(new)
        report.files.append(path.name)
        archive_dir.mkdir(parents=True, exist_ok=True)
        shutil.move(str(path), _free_name(archive_dir, path.name))
    return report


def _append(store_path: Path, rows: pd.DataFrame) -> None:
    store_path.parent.mkdir(parents=True, exist_ok=True)
    rows.to_csv(store_path, mode="a", header=not store_path.is_file(), index=False)
