"""Classification and calibration metrics on a labelled set."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn import metrics as skm

from sentiment_lib.data import LABEL_COLUMN, LABELS, TEXT_COLUMN, labels_to_ids
from sentiment_lib.predict import Predictions, SentimentPredictor, softmax

CALIBRATION_BINS = 10


@dataclass
class Evaluation:
    """A labelled set, its predictions and their metrics."""

    name: str
    y_true: np.ndarray  # 1 = positive
    predictions: Predictions
    metrics: dict[str, float]

    @property
    def y_pred(self) -> np.ndarray:
        return np.array([LABELS.index(label) for label in self.predictions.labels])


def expected_calibration_error(confidences: np.ndarray, correct: np.ndarray, bins: int = CALIBRATION_BINS) -> float:
    """Weighted mean gap between confidence and accuracy over equal-width confidence bins."""
    table = reliability_table(confidences, correct, bins)
    return float((table["count"] * (table["confidence"] - table["accuracy"]).abs()).sum() / len(confidences))


def calibration_error(logits: np.ndarray, labels: np.ndarray, temperature: float) -> float:
    """ECE of the answers ``logits / temperature`` give, against class indices ``labels``."""
    probabilities = softmax(logits / temperature)
    return expected_calibration_error(probabilities.max(axis=1), probabilities.argmax(axis=1) == labels)


def reliability_table(confidences: np.ndarray, correct: np.ndarray, bins: int = CALIBRATION_BINS) -> pd.DataFrame:
    """Per confidence bin: mean confidence, accuracy and count (empty bins left out)."""
    # Confidences of a two-class argmax are in [0.5, 1]; bin that range, not [0, 1].
    edges = np.linspace(0.5, 1.0, bins + 1)
    which = np.clip(np.digitize(confidences, edges[1:-1]), 0, bins - 1)
    frame = pd.DataFrame({"bin": which, "confidence": confidences, "correct": correct.astype(float)})
    grouped = frame.groupby("bin").agg(
        confidence=("confidence", "mean"), accuracy=("correct", "mean"), count=("correct", "size")
    )
    return grouped.reset_index()


def classification_metrics(y_true: np.ndarray, predictions: Predictions) -> dict[str, float]:
    """Accuracy, precision, recall, F1 (positive class), ROC AUC, ECE and Brier score."""
    y_pred = np.array([LABELS.index(label) for label in predictions.labels])
    p_pos = predictions.positive_probabilities
    two_classes = len(np.unique(y_true)) == 2
    return {
        "accuracy": float(skm.accuracy_score(y_true, y_pred)),
        "precision": float(skm.precision_score(y_true, y_pred, zero_division=0)),
        "recall": float(skm.recall_score(y_true, y_pred, zero_division=0)),
        "f1": float(skm.f1_score(y_true, y_pred, zero_division=0)),
        "roc_auc": float(skm.roc_auc_score(y_true, p_pos)) if two_classes else float("nan"),
        "ece": expected_calibration_error(predictions.confidences, y_pred == y_true),
        "brier": float(np.mean((p_pos - y_true) ** 2)),
        "n": float(len(y_true)),
    }


def evaluate_frame(predictor: SentimentPredictor, frame: pd.DataFrame, name: str) -> Evaluation:
    """Predict a labelled frame (``Review``, ``Sentiment``) and compute its metrics."""
    y_true = (frame[LABEL_COLUMN] == "positive").to_numpy().astype(int)
    logits = predictor.logits(frame[TEXT_COLUMN].tolist())
    predictions = predictor.from_logits(logits)
    metrics = classification_metrics(y_true, predictions)
    # the same answers before temperature scaling: what calibration bought on this set
    labels = np.array(labels_to_ids(frame[LABEL_COLUMN]))
    metrics["ece_before_temperature"] = calibration_error(logits, labels, 1.0)
    return Evaluation(name, y_true, predictions, metrics)


def prefixed(evaluation: Evaluation) -> dict[str, float]:
    """Metrics named ``<set>_<metric>`` for logging."""
    return {f"{evaluation.name}_{key}": value for key, value in evaluation.metrics.items()}
