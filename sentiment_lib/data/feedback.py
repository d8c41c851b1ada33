"""Ingest newly labelled feedback: ``data/incoming/*.csv`` into one feedback store, nothing ever deleted.

A label for a text the labelling queue asked about (``data/to_label/``) may name the text by its ``request_id``
alone: ingestion is given a ``find_texts`` that fills those texts in (the queue's
:func:`sentiment_lib.labeling.queue.text_finder`), and a file naming an id it cannot resolve is quarantined,
saying which. ``request_id``, ``annotator`` and ``labelled_at`` are kept in the store when given, and
``chosen_as``, why the queue asked for the label ("" for a label it did not ask for).

Each file is validated like training data. A good file's new rows (duplicates of stored reviews are
counted and skipped) are appended to the store with their arrival time and source file, and the file is
moved to ``archive/``. A bad file is moved to ``quarantine/`` with a ``.reason.txt`` beside it.

Only complete files are taken. The protocol for writers: write ``name.csv.tmp`` (or any name not ending in
``.csv``) and rename it to ``name.csv`` when done; a rename is atomic, so the file appears whole. A writer
that cannot rename (a copy tool, a spreadsheet export) is covered by the ``incoming_settle_seconds`` setting:
files changed more recently than that are left for the next ingestion.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from sentiment_lib.data import mix
from sentiment_lib.data.dataset import domains_of, sample_rows, validate_reviews
from sentiment_lib.data.schema import CHOSEN_AS, DOMAIN_COLUMN, LABEL_COLUMN, TEXT_COLUMN, UNKNOWN_CHOICE
from sentiment_lib.errors import DataValidationError
from sentiment_lib.io import (
    append_csv_records,
    csv_records_end,
    read_csv_records,
    read_csv_strict,
    write_csv_atomic,
    write_text_atomic,
)
from sentiment_lib.workspace import Workspace

log = logging.getLogger(__name__)

# fills each empty Review of a file's rows by its request_id (the file's name, for errors); raises
# DataValidationError for a row it cannot resolve
TextFinder = Callable[[pd.DataFrame, str], pd.DataFrame]
FEEDBACK_DOMAIN = "feedback"  # the domain of feedback rows in a training set (the store has no domains)

# who labelled a text and when, and which served text it was (a label from the labelling queue)
PROVENANCE_COLUMNS = ["request_id", "annotator", "labelled_at", CHOSEN_AS]
STORE_COLUMNS = [TEXT_COLUMN, LABEL_COLUMN, "timestamp", "arrived_at", "source_file", *PROVENANCE_COLUMNS]
# Parts of the feedback written beside the base split: <processed_dir>/feedback_<part>.csv
FEEDBACK_PARTS = ("train", "validation", "holdout")


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


def _validate_file(path: Path, find_texts: TextFinder | None) -> pd.DataFrame:
    rows = read_csv_strict(path)
    if "request_id" in rows.columns and find_texts is not None:
        rows = find_texts(rows, path.name)
    # a one-class file is fine for feedback (a day of complaints)
    clean, _ = validate_reviews(rows, source=path.name, require_both_classes=False)
    return clean


def quarantine(path: Path, quarantine_dir: Path, reason: str) -> Path:
    quarantine_dir.mkdir(parents=True, exist_ok=True)
    target = _free_name(quarantine_dir, path.name)
    shutil.move(str(path), target)
    write_text_atomic(target.with_name(target.name + ".reason.txt"), reason + "\n")
    log.warning("Quarantined %s: %s", path.name, reason)
    return target


def read_store(store_path: str | Path) -> pd.DataFrame:
    """The feedback store, oldest rows first (empty, with the store's columns, before any ingestion).

    A record cut short by a crash at the end is skipped (and logged): its incoming file was not archived
    yet, so the next ingestion adds that row again.
    """
    store_path = Path(store_path)
    if not store_path.is_file() or store_path.stat().st_size == 0:
        return pd.DataFrame(columns=STORE_COLUMNS)
    try:
        return read_csv_records(store_path, f"The feedback store {store_path}")[0]
    except DataValidationError:
        if csv_records_end(store_path.read_bytes()) == 0:  # only a torn header: nothing was stored yet
            return pd.DataFrame(columns=STORE_COLUMNS)
        raise


def _incoming_files(incoming_dir: Path, settle_seconds: float, now: float) -> list[Path]:
    """``*.csv`` entries, oldest name first; with ``settle_seconds``, only those unchanged for that long
    (a writer that cannot rename a finished ``.tmp`` file may still be writing a younger one)."""
    ready = []
    for path in sorted(incoming_dir.glob("*.csv")):
        try:
            young = settle_seconds > 0 and now - path.stat().st_mtime < settle_seconds
        except OSError:  # it vanished since the listing: nothing to take
            continue
        if not young:
            ready.append(path)
    return ready


def ingest_incoming(
    incoming_dir: str | Path,
    store_path: str | Path,
    archive_dir: str | Path,
    quarantine_dir: str | Path,
    now: datetime | None = None,
    settle_seconds: float = 0.0,
    report: IngestReport | None = None,
    find_texts: TextFinder | None = None,
) -> IngestReport:
    """Ingest every complete ``*.csv`` in ``incoming_dir``, oldest name first; see the module docstring.

    ``find_texts`` fills in the texts of labels given by request id (None: a row needs its Review).

    A file that cannot be read for any reason (not a CSV, not UTF-8, a folder, gone mid-read) is quarantined
    with its reason; the others are still ingested. A store that cannot be written raises; a ``report``
    passed in then still tells what was done before (files quarantined need their alerts all the same).
    """
    incoming_dir, store_path = Path(incoming_dir), Path(store_path)
    archive_dir, quarantine_dir = Path(archive_dir), Path(quarantine_dir)
    now = now or datetime.now(UTC)
    arrived = now.isoformat(timespec="seconds")
    report = report if report is not None else IngestReport()
    known = set(read_store(store_path)[TEXT_COLUMN])
    # a file's age is measured on the file system's (wall) clock, whatever clock dates the arrivals
    for path in _incoming_files(incoming_dir, settle_seconds, time.time()):
        try:
            rows = _validate_file(path, find_texts)
        except Exception as err:  # whatever makes a file unreadable, it must not stop the others
            reason = str(err) if isinstance(err, DataValidationError) else f"{path.name} cannot be read: {err!r}"
            _quarantine_safely(path, quarantine_dir, reason, report)
            continue
        new = rows[~rows[TEXT_COLUMN].isin(known)].copy()
        report.duplicates_skipped += len(rows) - len(new)
        for column in ("timestamp", *PROVENANCE_COLUMNS):
            new[column] = new.get(column, "")
        new["arrived_at"], new["source_file"] = arrived, path.name
        _append(store_path, new[STORE_COLUMNS])
        known.update(new[TEXT_COLUMN])
        report.rows_added += len(new)
        report.files.append(path.name)
        # archived only once its rows are stored: a crash in between re-ingests it, and its rows are duplicates
        archive_dir.mkdir(parents=True, exist_ok=True)
        shutil.move(str(path), _free_name(archive_dir, path.name))
    return report


def ingest_workspace(
    ws: Workspace, report: IngestReport | None = None, now: datetime | None = None, find_texts: TextFinder | None = None
) -> IngestReport:
    """:func:`ingest_incoming` over the workspace's folders and settings; ``now`` dates the arrivals."""
    settle = ws.settings.incoming_settle_seconds
    folders = (ws.incoming, ws.feedback_store, ws.archive, ws.quarantine)
    return ingest_incoming(*folders, settle_seconds=settle, report=report, now=now, find_texts=find_texts)


def _quarantine_safely(path: Path, quarantine_dir: Path, reason: str, report: IngestReport) -> None:
    try:
        quarantine(path, quarantine_dir, reason)
    except OSError as err:  # for example it vanished: there is nothing left to move
        reason += f" (and it could not be moved to quarantine: {err})"
        log.warning("Incoming file %s: %s", path.name, reason)
    report.quarantined[path.name] = reason


def _append(store_path: Path, rows: pd.DataFrame) -> None:
    _add_new_columns(store_path)
    header = rows.head(0).to_csv(index=False).encode("utf-8")
    append_csv_records(store_path, rows.to_csv(index=False, header=False).encode("utf-8"), header)


def _add_new_columns(store_path: Path) -> None:
    """Rewrite a store written before a column was added to :data:`STORE_COLUMNS` with that column (empty),
    so that new rows append under a header that names all their fields."""
    if not store_path.is_file() or store_path.stat().st_size == 0:
        return
    with store_path.open("rb") as handle:
        header = handle.readline()
    if header.rstrip(b"\r\n") == ",".join(STORE_COLUMNS).encode() or not header.endswith(b"\n"):
        return  # current, or a torn first line that the next append cuts
    store = with_chosen_as(read_store(store_path))
    write_csv_atomic(store.reindex(columns=STORE_COLUMNS, fill_value=""), store_path)
    log.info("Feedback store %s: added the column(s) %s", store_path, [c for c in STORE_COLUMNS if c not in store])


def stable_bucket(text: str) -> float:
    """A number in [0, 1) fixed by the text alone, so a review stays in the same part across retrains."""
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


@dataclass
class FeedbackSplit:
    parts: dict[str, pd.DataFrame]
    already_in_base: int  # store rows whose text is in the base data: the base copy is used

    def summary(self) -> str:
        sizes = ", ".join(f"{name}: {len(part)}" for name, part in self.parts.items())
        return f"feedback split {sizes}; {self.already_in_base} feedback rows already in the base data"


def split_feedback(
    store: pd.DataFrame, base_texts: set[str], val_fraction: float, holdout_fraction: float
) -> FeedbackSplit:
    """Split the labelled feedback store into train / validation / holdout by a hash of each text.

    The split depends on the text only: a row held out for the promotion gate is never trained on by
    any model, present or future (as long as the fractions stay the same).
    """
    fresh = store[~store[TEXT_COLUMN].isin(base_texts)][[TEXT_COLUMN, LABEL_COLUMN, "arrived_at"]]
    buckets = fresh[TEXT_COLUMN].map(stable_bucket)
    holdout = buckets < holdout_fraction
    validation = (buckets >= holdout_fraction) & (buckets < holdout_fraction + val_fraction)
    parts = {
        "train": fresh[~holdout & ~validation],
        "validation": fresh[validation],
        "holdout": fresh[holdout],
    }
    parts = {name: part.reset_index(drop=True) for name, part in parts.items()}
    return FeedbackSplit(parts, len(store) - len(fresh))


def write_feedback_split(split: FeedbackSplit, processed_dir: str | Path) -> None:
    """Write every part, even an empty one, so that no part of an older run is left behind."""
    for name, part in split.parts.items():
        write_csv_atomic(part, Path(processed_dir) / f"feedback_{name}.csv")


def read_feedback_part(processed_dir: str | Path, name: str) -> pd.DataFrame:
    """One part written by :func:`write_feedback_split`; empty when preprocessing saw no feedback."""
    path = Path(processed_dir) / f"feedback_{name}.csv"
    if not path.is_file():
        return pd.DataFrame(columns=[TEXT_COLUMN, LABEL_COLUMN, "arrived_at"])
    return read_csv_strict(path)


def with_feedback(
    base: pd.DataFrame, extra: pd.DataFrame, limit: int, seed: int, weights: dict[str, float] | None = None
) -> pd.DataFrame:
    """Every feedback row plus a seeded sample of base rows filling up to ``limit`` (``0`` = all base rows),
    drawn by the mix ``weights`` when given (see ``data/mix.py``). Feedback rows get the domain ``feedback``.

    Feedback is scarce and recent, so none of it is sampled away; the base sample keeps at least half of
    ``limit`` (the total may then exceed it) so that a flood of feedback cannot make the model forget.

    Raises:
        DataValidationError: the mix names a domain the base rows do not have, or leaves no row.
    """
    room = 0 if limit <= 0 else max(limit - len(extra), limit // 2)
    sample = sample_rows(base, room, seed) if weights is None else mix.mixed_sample(base, weights, room, seed)
    columns = [TEXT_COLUMN, LABEL_COLUMN]
    sample = sample[columns].assign(**{DOMAIN_COLUMN: domains_of(sample)})
    return pd.concat([sample, extra[columns].assign(**{DOMAIN_COLUMN: FEEDBACK_DOMAIN})], ignore_index=True)


def sampled_at_random(store: pd.DataFrame) -> pd.DataFrame:
    """The rows whose texts were not picked for being hard: labels nobody chose (every text of a stream, an
    annotator's own file) and those the labelling queue drew at random. The queue's other picks are the texts
    the champion is least sure of or disputed, on which its accuracy reads low: a fair performance check
    leaves them out (they still train the next model and count in the gate, where both models answer them)."""
    why = with_chosen_as(store)[CHOSEN_AS].fillna("").astype(str)
    return store[(why == "") | (why == "random")]


def with_chosen_as(store: pd.DataFrame) -> pd.DataFrame:
    """``store`` with its ``chosen_as`` column; a store written before the column existed gets "unknown" for
    the labels given by request id (most likely picks of the queue, whose reason was not kept) and "" for the
    others, so that old queue picks do not pass for random ones."""
    if CHOSEN_AS in store.columns:
        return store
    by_id = store.get("request_id", pd.Series("", index=store.index)).fillna("").astype(str) != ""
    return store.assign(**{CHOSEN_AS: by_id.map({True: UNKNOWN_CHOICE, False: ""})})


def arrived_after(store: pd.DataFrame, moment: datetime) -> pd.DataFrame:
    """The store's rows that arrived after ``moment``: feedback a model cannot have been trained on."""
    arrived = pd.to_datetime(store["arrived_at"], utc=True, errors="coerce")
    return store[arrived > pd.Timestamp(moment)]
