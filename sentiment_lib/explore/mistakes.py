"""The mistakes a model makes with the most confidence: where to look first."""

from __future__ import annotations

import numpy as np
import pandas as pd

from sentiment_lib.data.schema import LABEL_COLUMN, TEXT_COLUMN
from sentiment_lib.inference.predictor import Predictions


def confident_mistakes(frame: pd.DataFrame, predictions: Predictions, limit: int = 20) -> pd.DataFrame:
    """The ``limit`` wrong answers with the highest confidence: text, label, predicted label, confidence."""
    answers = pd.DataFrame(
        {
            "text": frame[TEXT_COLUMN].to_numpy(),
            "label": frame[LABEL_COLUMN].to_numpy(),
            "predicted": predictions.labels,
            "confidence": np.asarray(predictions.confidences, dtype=float),
        }
    )
    wrong = answers[answers["label"] != answers["predicted"]]
    return wrong.sort_values("confidence", ascending=False, kind="stable").head(limit).reset_index(drop=True)
