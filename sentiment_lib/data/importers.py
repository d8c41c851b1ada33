"""Turn other data formats into the canonical training CSV (``Review``, ``Sentiment``, ``domain``[, ``timestamp``])."""

from __future__ import annotations

import csv
import logging
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from sentiment_lib.data.dataset import validate_reviews
from sentiment_lib.data.schema import (
    AIRLINE_DOMAIN,
    DEFAULT_DOMAIN,
    DOMAIN_COLUMN,
    LABEL_COLUMN,
    LABELS,
    SST2_DOMAIN,
    TEXT_COLUMN,
    is_domain_name,
)
from sentiment_lib.errors import DataValidationError
from sentiment_lib.io import append_csv_records, read_csv_strict, write_csv_atomic

log = logging.getLogger(__name__)

SST2_LABELS = {"0": "negative", "1": "positive"}
SST2_DEFAULT_SPLITS = ("train", "dev")
AIRLINE_TIME_FORMAT = "%d-%m-%Y %H.%M"


@dataclass
class ImportResult:
    """The canonical frame and every note on what the import changed or left out."""

    frame: pd.DataFrame
    notes: list[str] = field(default_factory=list)


def _require_columns(frame: pd.DataFrame, wanted: list[str], source: Path) -> None:
    missing = [c for c in wanted if c not in frame.columns]
    if missing:
        raise DataValidationError(f"{source} is missing column(s) {missing}; found {list(frame.columns)}")


def _map_labels(values: pd.Series, mapping: dict[str, str], source: Path) -> pd.Series:
    keys = values.astype(str).str.strip().str.lower()
    mapped = keys.map({k.lower(): v for k, v in mapping.items()})
    bad = mapped.isna()
    if bad.any():
        raise DataValidationError(
            f"{source}: {int(bad.sum())} row(s) have labels outside the mapping {mapping}: "
            f"{sorted(keys[bad].unique())[:10]} (first at data row {int(bad.idxmax()) + 1})"
        )
    return mapped


def _read_table(path: Path, sep: str, quoting: int = csv.QUOTE_MINIMAL) -> pd.DataFrame:
    if not path.is_file():
        raise DataValidationError(f"File not found: {path}")
    return read_csv_strict(path, sep=sep, quoting=quoting)


def import_sst2(folder: str | Path, splits: tuple[str, ...] = SST2_DEFAULT_SPLITS) -> ImportResult:
    """Read GLUE SST-2 TSV files (``label<TAB>text``, 0 = negative, 1 = positive).

    The ``test`` split is left out by default: evaluation reads it separately as an untouched test set.

    Raises:
        DataValidationError: a split file is missing or malformed.
    """
    folder = Path(folder)
    parts, notes = [], []
    for split in splits:
        path = folder / f"{split}.tsv"
        table = _read_table(path, sep="\t", quoting=csv.QUOTE_NONE)
        if table.shape[1] != 2 or table.columns[0] != "label":
            raise DataValidationError(f"{path}: expected two columns 'label<TAB>text', got {list(table.columns)}")
        parts.append(
            pd.DataFrame(
                {
                    TEXT_COLUMN: table.iloc[:, 1],
                    LABEL_COLUMN: _map_labels(table["label"], SST2_LABELS, path),
                    DOMAIN_COLUMN: SST2_DOMAIN,
                }
            )
        )
        notes.append(f"{path}: {len(table)} rows")
    return ImportResult(pd.concat(parts, ignore_index=True), notes)


def import_airline(path: str | Path) -> ImportResult:
    """Read the Twitter US Airline Sentiment CSV; keep ``tweet_created`` as an ISO ``timestamp``.

    Neutral tweets have no place in a positive/negative classifier: they are dropped and counted.

    Raises:
        DataValidationError: the file is missing, malformed, or has unknown sentiments or timestamps.
    """
    path = Path(path)
    table = _read_table(path, sep=",")
    _require_columns(table, ["text", "airline_sentiment", "tweet_created"], path)
    neutral = table["airline_sentiment"].str.strip().str.lower() == "neutral"
    kept = table[~neutral]
    stamps = pd.to_datetime(kept["tweet_created"], format=AIRLINE_TIME_FORMAT, errors="coerce")
    if stamps.isna().any():
        first = int(stamps.isna().idxmax())
        raise DataValidationError(
            f"{path}: {int(stamps.isna().sum())} tweet_created value(s) are not '{AIRLINE_TIME_FORMAT}' "
            f"(first at data row {first + 1}: {kept.loc[first, 'tweet_created']!r})"
        )
    frame = pd.DataFrame(
        {
            TEXT_COLUMN: kept["text"],
            LABEL_COLUMN: _map_labels(kept["airline_sentiment"], {v: v for v in LABELS}, path),
            DOMAIN_COLUMN: AIRLINE_DOMAIN,
            "timestamp": stamps.dt.strftime("%Y-%m-%dT%H:%M:%S"),
        }
    ).sort_values("timestamp", kind="stable")
    notes = [f"{path}: {len(table)} rows, {int(neutral.sum())} neutral tweets dropped, {len(frame)} kept"]
    return ImportResult(frame.reset_index(drop=True), notes)


AIRLINE_COLUMNS = {"text", "airline_sentiment", "tweet_created"}


def read_labelled(path: str | Path) -> pd.DataFrame:
    """Labelled rows in the canonical columns from any file the project knows: an SST-2 split (``.tsv``),
    the airline tweets CSV (neutral tweets left out, oldest first), or a CSV with ``Review, Sentiment``.

    Raises:
        DataValidationError: the file is missing or breaks the data contract.
    """
    path = Path(path)
    if path.suffix == ".tsv":
        return import_sst2(path.parent, splits=(path.stem,)).frame
    frame = read_csv_strict(path)
    if set(frame.columns) >= AIRLINE_COLUMNS:
        return import_airline(path).frame
    return validate_reviews(frame, source=path.name, require_both_classes=False)[0]


def parse_label_map(text: str) -> dict[str, str]:
    """Parse ``"1=positive,0=negative"`` into a mapping; every target must be a known label.

    Raises:
        DataValidationError: malformed pairs or unknown target labels.
    """
    mapping = {}
    for pair in filter(None, (p.strip() for p in text.split(","))):
        source, sep, target = pair.partition("=")
        if not sep or target.strip().lower() not in LABELS:
            raise DataValidationError(f"Bad label map entry {pair!r}: write value=positive or value=negative")
        mapping[source.strip()] = target.strip().lower()
    return mapping


def import_table(
    path: str | Path,
    text_column: str,
    label_column: str,
    label_map: dict[str, str] | None = None,
    timestamp_column: str | None = None,
    domain: str | None = None,
) -> ImportResult:
    """Read any CSV (``.csv``) or TSV (``.tsv``/``.tab``) with named text and label columns.

    Labels must already be positive/negative (any case) unless ``label_map`` maps them. Every row gets
    ``domain``; without one, a ``domain`` column of the file is kept, else the rows are ``DEFAULT_DOMAIN``.

    Raises:
        DataValidationError: missing file or columns, labels outside the mapping, or a bad domain name.
    """
    if domain is not None and not is_domain_name(domain):
        raise DataValidationError(
            f"Bad domain name {domain!r}: one short lower-case word (letters, digits, - or _), e.g. pets"
        )
    path = Path(path)
    sep = "\t" if path.suffix.lower() in {".tsv", ".tab"} else ","
    table = _read_table(path, sep=sep)
    wanted = [text_column, label_column] + ([timestamp_column] if timestamp_column else [])
    _require_columns(table, wanted, path)
    mapping = label_map or {v: v for v in LABELS}
    frame = pd.DataFrame(
        {TEXT_COLUMN: table[text_column], LABEL_COLUMN: _map_labels(table[label_column], mapping, path)}
    )
    frame[DOMAIN_COLUMN] = domain or (table[DOMAIN_COLUMN] if DOMAIN_COLUMN in table.columns else DEFAULT_DOMAIN)
    if timestamp_column:
        frame["timestamp"] = table[timestamp_column]
    return ImportResult(frame, [f"{path}: {len(table)} rows"])


REVIEW_COLUMNS = [TEXT_COLUMN, LABEL_COLUMN, DOMAIN_COLUMN]


def review_files(source: str | Path, names: list[str] | None = None) -> list[Path]:
    """The CSV files to import: ``source`` itself when it is a file, else the files of the folder ``names``
    lists, else every ``*.csv`` in it (sorted by name).

    Raises:
        DataValidationError: ``source`` does not exist, a named file is not in it, or it holds no CSV file.
    """
    source = Path(source)
    if source.is_file():
        return [source]
    if not source.is_dir():
        raise DataValidationError(f"File or folder not found: {source}")
    if names:
        missing = [name for name in names if not (source / name).is_file()]
        if missing:
            found = ", ".join(p.name for p in sorted(source.glob("*.csv")))
            raise DataValidationError(f"{source} has no file(s) {missing}; its CSV files: {found or 'none'}")
        return [source / name for name in names]
    files = sorted(source.glob("*.csv"))
    if not files:
        raise DataValidationError(f"{source} holds no .csv file")
    return files


def import_reviews(source: str | Path, names: list[str] | None = None) -> ImportResult:
    """Read labelled customer reviews (``Review``, ``Sentiment``, ``domain``), one CSV per source, as in
    ``../shared/data/reviews``: every CSV of the folder, or the ``names`` given.

    Raises:
        DataValidationError: a file is missing or lacks a column; labels or domains are checked on writing.
    """
    parts, notes = [], []
    for path in review_files(source, names):
        table = _read_table(path, sep=",")
        _require_columns(table, REVIEW_COLUMNS, path)
        part = table[REVIEW_COLUMNS].copy()
        part[LABEL_COLUMN] = _map_labels(part[LABEL_COLUMN], {v: v for v in LABELS}, path)
        parts.append(part)
        per_domain = part[DOMAIN_COLUMN].astype(str).str.strip().str.lower().value_counts().sort_index()
        notes.append(f"{path}: {len(part)} rows ({', '.join(f'{d} {n}' for d, n in per_domain.items())})")
    return ImportResult(pd.concat(parts, ignore_index=True), notes)


def write_canonical(result: ImportResult, output: str | Path, mode: str = "fail") -> list[str]:
    """Validate the imported frame and write it; return the notes of import and validation.

    ``mode`` decides what happens when ``output`` exists: ``fail`` (default, nothing is overwritten),
    ``append`` (added after the existing rows; duplicates are then reported when loading) or ``overwrite``.

    Raises:
        DataValidationError: the imported data breaks the contract, or ``output`` exists with mode ``fail``.
    """
    output = Path(output)
    clean, report = validate_reviews(result.frame, source="imported data")
    if output.exists() and mode == "fail":
        raise DataValidationError(f"{output} exists: pass --append to add to it or --overwrite to replace it")
    output.parent.mkdir(parents=True, exist_ok=True)
    if output.exists() and mode == "append":
        existing = list(pd.read_csv(output, nrows=0).columns)
        if sorted(existing) != sorted(clean.columns):
            old = " (a file written before domains existed: import it again with --overwrite, then append)"
            raise DataValidationError(
                f"Cannot append: {output} has columns {existing}, the import has {list(clean.columns)}"
                + (old if DOMAIN_COLUMN not in existing else "")
            )
        rows = clean[existing].to_csv(index=False, header=False).encode("utf-8")
        append_csv_records(output, rows, header=b"")  # whole records: a crash never glues a half row
    else:
        write_csv_atomic(clean, output)
    done = {"fail": "new file", "append": "appended", "overwrite": "replaced"}[mode]
    return [*result.notes, report.summary(), f"wrote {len(clean)} rows to {output} ({done})"]
