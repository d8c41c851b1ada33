"""Load, validate, normalise and split the canonical training CSV (``Review``, ``Sentiment``)."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd
from sklearn.model_selection import train_test_split

from sentiment_lib.data.schema import (
    DEFAULT_DOMAIN,
    DOMAIN_COLUMN,
    LABEL_COLUMN,
    LABELS,
    TEXT_COLUMN,
    is_domain_name,
    normalize_text,
)
from sentiment_lib.errors import DataLeakageError, DataValidationError
from sentiment_lib.io import read_csv_strict, write_csv_atomic, write_json_atomic

log = logging.getLogger(__name__)

SPLITS = ("train", "validation", "test")
_MAX_ROWS_SHOWN = 10


@dataclass
class ValidationReport:
    """What validation found and did, for the preprocessing report."""

    source: str
    rows_read: int
    rows_kept: int
    duplicates_dropped: int = 0
    conflicting_duplicates: int = 0
    class_counts: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        text = f"{self.rows_read} rows read from {self.source}; {self.rows_kept} kept"
        if self.duplicates_dropped:
            text += (
                f"; {self.duplicates_dropped} duplicate reviews dropped (first kept), "
                f"{self.conflicting_duplicates} of them with a different label than the kept row"
            )
        return text


def _line_numbers(index: pd.Index) -> str:
    # +2: one for the header line, one because files count lines from 1
    lines = [str(i + 2) for i in index[:_MAX_ROWS_SHOWN]]
    more = f" and {len(index) - _MAX_ROWS_SHOWN} more" if len(index) > _MAX_ROWS_SHOWN else ""
    return ", ".join(lines) + more


def validate_reviews(
    frame: pd.DataFrame, source: str = "<frame>", require_both_classes: bool = True
) -> tuple[pd.DataFrame, ValidationReport]:
    """Check a frame against the data contract; return the clean frame and what was done.

    Labels are matched ignoring case and surrounding spaces; reviews are normalised; exact duplicate
    reviews (after normalisation) are dropped, keeping the first, and counted in the report.
    Extra columns (for example ``timestamp``) are kept.

    Raises:
        DataValidationError: missing columns, no rows, empty reviews, unknown labels, or one class only
            (unless ``require_both_classes`` is False, as for a batch of feedback).
    """
    missing = [c for c in (TEXT_COLUMN, LABEL_COLUMN) if c not in frame.columns]
    if missing:
        raise DataValidationError(
            f"{source} is missing column(s) {missing}; found {list(frame.columns)}. "
            f"Expected {TEXT_COLUMN},{LABEL_COLUMN} (use `runner.py import-data table` for other names)."
        )
    if frame.empty:
        raise DataValidationError(f"{source} has a header but no rows")
    frame = frame.copy()
    frame[TEXT_COLUMN] = frame[TEXT_COLUMN].fillna("").astype(str).map(normalize_text)
    empty = frame.index[frame[TEXT_COLUMN] == ""]
    if len(empty):
        raise DataValidationError(f"{source} has {len(empty)} empty review(s) at line(s) {_line_numbers(empty)}")
    frame[LABEL_COLUMN] = frame[LABEL_COLUMN].fillna("").astype(str).str.strip().str.lower()
    unknown = frame.index[~frame[LABEL_COLUMN].isin(LABELS)]
    if len(unknown):
        values = sorted(frame.loc[unknown, LABEL_COLUMN].unique())[:_MAX_ROWS_SHOWN]
        raise DataValidationError(
            f"{source} has {len(unknown)} row(s) with unknown labels {values} at line(s) "
            f"{_line_numbers(unknown)}; Sentiment must be one of {list(LABELS)}"
        )
    if DOMAIN_COLUMN in frame.columns:
        frame[DOMAIN_COLUMN] = _checked_domains(frame[DOMAIN_COLUMN], source)
    return _drop_duplicates(frame, source, require_both_classes)


def _checked_domains(values: pd.Series, source: str) -> pd.Series:
    domains = values.fillna("").astype(str).str.strip().str.lower()
    bad = domains.index[~domains.map(is_domain_name)]
    if len(bad):
        shown = sorted(domains[bad].unique())[:_MAX_ROWS_SHOWN]
        raise DataValidationError(
            f"{source} has {len(bad)} row(s) with a bad {DOMAIN_COLUMN} {shown} at line(s) {_line_numbers(bad)}; "
            "a domain is one short lower-case word (letters, digits, - or _), e.g. hotels"
        )
    return domains


def domains_of(frame: pd.DataFrame) -> pd.Series:
    """Each row's domain; rows of a file written before domains existed are all ``DEFAULT_DOMAIN``."""
    if DOMAIN_COLUMN in frame.columns:
        return frame[DOMAIN_COLUMN].fillna(DEFAULT_DOMAIN).astype(str)
    return pd.Series(DEFAULT_DOMAIN, index=frame.index, name=DOMAIN_COLUMN)


def _drop_duplicates(
    frame: pd.DataFrame, source: str, require_both_classes: bool
) -> tuple[pd.DataFrame, ValidationReport]:
    duplicated = frame.duplicated(TEXT_COLUMN, keep="first")
    first_label = frame.drop_duplicates(TEXT_COLUMN).set_index(TEXT_COLUMN)[LABEL_COLUMN]
    dupes = frame[duplicated]
    conflicting = int((dupes[LABEL_COLUMN].values != first_label.loc[dupes[TEXT_COLUMN]].values).sum())
    clean = frame[~duplicated].reset_index(drop=True)
    counts = clean[LABEL_COLUMN].value_counts()
    if require_both_classes and len(counts) < len(LABELS):
        raise DataValidationError(
            f"{source} has a single class ({counts.index[0]!r}, {counts.iloc[0]} rows): "
            f"training needs both {list(LABELS)}"
        )
    report = ValidationReport(
        source=source,
        rows_read=len(frame),
        rows_kept=len(clean),
        duplicates_dropped=int(duplicated.sum()),
        conflicting_duplicates=conflicting,
        class_counts={label: int(counts.get(label, 0)) for label in LABELS},
    )
    if report.duplicates_dropped:
        log.warning(report.summary())
    return clean, report


def load_reviews(path: str | Path) -> tuple[pd.DataFrame, ValidationReport]:
    """Read and validate the canonical training CSV.

    Raises:
        DataValidationError: see :func:`read_csv_strict` and :func:`validate_reviews`.
    """
    return validate_reviews(read_csv_strict(path), source=str(path))


# a (domain, label) pair with fewer rows than this is stratified with the other small ones of its label: a
# three-way split cannot keep the share of a pair of a handful of rows anyway
MIN_STRATUM_ROWS = 20


def strata(frame: pd.DataFrame) -> pd.Series:
    """The key each row is stratified by: its domain and label, or only its label for a pair too rare to split."""
    keys = domains_of(frame) + "/" + frame[LABEL_COLUMN]
    counts = keys.map(keys.value_counts())
    return keys.where(counts >= MIN_STRATUM_ROWS, "*/" + frame[LABEL_COLUMN])


def split_reviews(frame: pd.DataFrame, val_fraction: float, test_fraction: float, seed: int) -> dict[str, pd.DataFrame]:
    """Seeded train/validation/test split, stratified by domain and label, so every domain keeps its share of
    each class in every part; checks that no text lands in two parts.

    Raises:
        DataValidationError: too few rows of a class to stratify.
        DataLeakageError: a text appears in more than one split.
    """
    try:
        rest, test = train_test_split(frame, test_size=test_fraction, stratify=strata(frame), random_state=seed)
        train, validation = train_test_split(
            rest, test_size=val_fraction / (1 - test_fraction), stratify=strata(rest), random_state=seed
        )
    except ValueError as err:
        raise DataValidationError(f"Cannot split {len(frame)} rows into train/validation/test: {err}") from None
    splits = {name: part.reset_index(drop=True) for name, part in zip(SPLITS, (train, validation, test), strict=True)}
    assert_disjoint(splits)
    return splits


def assert_disjoint(splits: dict[str, pd.DataFrame]) -> None:
    """Raise DataLeakageError if any review text is in more than one split."""
    seen: dict[str, str] = {}
    for name, part in splits.items():
        for text in part[TEXT_COLUMN]:
            if text in seen and seen[text] != name:
                raise DataLeakageError(f"Review {text[:60]!r} is in both {seen[text]!r} and {name!r}")
            seen[text] = name


def write_splits(splits: dict[str, pd.DataFrame], out_dir: str | Path, report: ValidationReport) -> Path:
    """Write ``<split>.csv`` files and ``summary.json``; return the summary path."""
    out_dir = Path(out_dir)
    for name, part in splits.items():
        write_csv_atomic(part, out_dir / f"{name}.csv")
    summary = {
        "validation": asdict(report),
        "splits": {name: part[LABEL_COLUMN].value_counts().to_dict() for name, part in splits.items()},
        "domains": domain_table(splits).to_dict(orient="index"),
    }
    return write_json_atomic(out_dir / "summary.json", summary)


def domain_table(splits: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Rows per domain (index) in each split, and each domain's share of positive rows over all splits."""
    parts = {name: domains_of(part).value_counts() for name, part in splits.items()}
    table = pd.DataFrame(parts).fillna(0).astype(int)
    every = pd.concat(splits.values(), ignore_index=True)
    positive = (every[LABEL_COLUMN] == "positive").groupby(domains_of(every)).mean()
    table["positive share"] = positive.round(3)
    return table.sort_index()


def read_split(processed_dir: str | Path, name: str) -> pd.DataFrame:
    """Read one split written by :func:`write_splits`.

    Raises:
        DataValidationError: the split is missing (run the preprocess step first).
    """
    path = Path(processed_dir) / f"{name}.csv"
    if not path.is_file():
        raise DataValidationError(f"Split {path} not found: run `python runner.py preprocess` first")
    return read_csv_strict(path)


def sample_rows(frame: pd.DataFrame, limit: int, seed: int) -> pd.DataFrame:
    """A seeded random sample of at most ``limit`` rows (``0`` = all rows, in their order)."""
    if limit <= 0 or limit >= len(frame):
        return frame
    return frame.sample(n=limit, random_state=seed).reset_index(drop=True)
