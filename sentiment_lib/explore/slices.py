"""Accuracy and calibration by slice: kinds of text (length, negation, contrast, questions, URLs, @mentions,
emoji, words in capitals) and, when the data has them, each source and time window.

A slice is a boolean mask over the rows; slices overlap (a tweet can be short, negated and a question).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from sentiment_lib import text_features as tf
from sentiment_lib.data.schema import LABEL_COLUMN, TEXT_COLUMN
from sentiment_lib.inference.predictor import Predictions
from sentiment_lib.training.evaluate import expected_calibration_error

LENGTH_BINS = ((1, 5), (6, 10), (11, 20), (21, 40), (41, None))  # words, inclusive
TIME_WINDOWS = 4  # equal-count windows of a ``timestamp`` column
KINDS: dict[str, Callable[[str], bool]] = {
    "negation (not, never, n't...)": tf.has_negation,
    "contrast (but, although...)": tf.has_contrast,
    "question": tf.is_question,
    "URL": tf.has_url,
    "@mention": tf.has_mention,
    "emoji": tf.has_emoji,
    "a word in capitals": tf.shouts,
}


def _length_masks(texts: pd.Series) -> dict[str, np.ndarray]:
    lengths = texts.map(lambda t: len(t.split())).to_numpy()
    masks = {}
    for low, high in LENGTH_BINS:
        name = f"{low}-{high} words" if high else f"{low}+ words"
        masks[name] = (lengths >= low) & (lengths <= (high or lengths.max(initial=0)))
    return masks


def _time_masks(timestamps: pd.Series) -> dict[str, np.ndarray]:
    moments = pd.to_datetime(timestamps, utc=True, errors="coerce", format="mixed")
    if moments.notna().sum() < TIME_WINDOWS:
        return {}
    windows = pd.qcut(moments.rank(method="first"), TIME_WINDOWS, labels=False)
    masks = {}
    for window in range(TIME_WINDOWS):
        inside = (windows == window).to_numpy()
        first, last = moments[inside].min(), moments[inside].max()
        masks[f"time {first:%Y-%m-%d %H:%M} to {last:%Y-%m-%d %H:%M}"] = inside
    return masks


def slice_masks(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """Every slice of ``frame`` (canonical columns; ``source`` and ``timestamp`` used when present)."""
    texts = frame[TEXT_COLUMN].astype(str)
    masks = {"all": np.ones(len(frame), dtype=bool), **_length_masks(texts)}
    masks.update({name: texts.map(has).to_numpy(dtype=bool) for name, has in KINDS.items()})
    if "source" in frame:
        masks.update(
            {f"source {s}": (frame["source"] == s).to_numpy() for s in sorted(frame["source"].dropna().unique())}
        )
    if "timestamp" in frame:
        masks.update(_time_masks(frame["timestamp"]))
    return masks


def slice_table(frame: pd.DataFrame, predictions: Predictions, min_rows: int = 1) -> pd.DataFrame:
    """Per slice with at least ``min_rows`` rows: its rows and share of the data, accuracy, mean confidence,
    the gap between them (positive: over-confident) and the expected calibration error."""
    correct = np.array(predictions.labels) == frame[LABEL_COLUMN].to_numpy()
    confidences = np.asarray(predictions.confidences, dtype=float)
    rows = []
    for name, mask in slice_masks(frame).items():
        n = int(mask.sum())
        if n < max(min_rows, 1):
            continue
        accuracy, confidence = float(correct[mask].mean()), float(confidences[mask].mean())
        rows.append(
            {
                "slice": name,
                "rows": n,
                "share": n / len(frame),
                "accuracy": accuracy,
                "mean_confidence": confidence,
                "overconfidence": confidence - accuracy,
                "ece": expected_calibration_error(confidences[mask], correct[mask]),
            }
        )
    return pd.DataFrame(rows).set_index("slice")


def compare_slices(frame: pd.DataFrame, answers: dict[str, Predictions], min_rows: int = 1) -> pd.DataFrame:
    """Each slice's rows and every model's accuracy on it (columns named after ``answers``' keys), and the
    last model's minus the first's."""
    tables = {name: slice_table(frame, predictions, min_rows) for name, predictions in answers.items()}
    names = list(tables)
    first, last = names[0], names[-1]
    compared = pd.DataFrame({"rows": tables[first]["rows"]})
    for name, table in tables.items():
        compared[f"accuracy {name}"] = table["accuracy"]
    compared["change"] = compared[f"accuracy {last}"] - compared[f"accuracy {first}"]
    return compared
