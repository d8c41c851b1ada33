"""Two versions on the same labelled texts: how often each is right where they disagree, with examples."""

from __future__ import annotations

import numpy as np
import pandas as pd

from sentiment_lib.data.schema import LABEL_COLUMN, TEXT_COLUMN
from sentiment_lib.inference.predictor import Predictions
from sentiment_lib.tracking.gate import mcnemar_p_value


def _correct(frame: pd.DataFrame, predictions: Predictions) -> np.ndarray:
    return np.array(predictions.labels) == frame[LABEL_COLUMN].to_numpy()


def agreement_table(frame: pd.DataFrame, first: Predictions, second: Predictions, names: tuple[str, str]) -> pd.Series:
    """Rows where both are right, only one is, or neither; and the one-sided McNemar p-value that the second is
    right more often than the first (only the disagreements carry evidence)."""
    a, b = _correct(frame, first), _correct(frame, second)
    return pd.Series(
        {
            "both right": int((a & b).sum()),
            f"only {names[0]} right": int((a & ~b).sum()),
            f"only {names[1]} right": int((~a & b).sum()),
            "both wrong": int((~a & ~b).sum()),
            f"p-value: {names[1]} better (McNemar)": mcnemar_p_value(a, b),
        },
        dtype=object,
    )


def disagreements(
    frame: pd.DataFrame, first: Predictions, second: Predictions, names: tuple[str, str], limit: int = 20
) -> pd.DataFrame:
    """Up to ``limit`` texts the two label differently: both answers with their confidence, and who is right;
    the most confident disagreements first."""
    a, b = np.array(first.labels), np.array(second.labels)
    differ = np.flatnonzero(a != b)
    labels = frame[LABEL_COLUMN].to_numpy()
    strength = np.maximum(np.asarray(first.confidences)[differ], np.asarray(second.confidences)[differ])
    order = differ[np.argsort(-strength, kind="stable")][:limit]
    return pd.DataFrame(
        {
            "text": frame[TEXT_COLUMN].to_numpy()[order],
            "label": labels[order],
            names[0]: [f"{a[i]} ({first.confidences[i]:.2f})" for i in order],
            names[1]: [f"{b[i]} ({second.confidences[i]:.2f})" for i in order],
            "right": [names[0] if a[i] == labels[i] else names[1] for i in order],
        }
    )
