"""Classification and calibration metrics on a labelled set."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import softmax
from sklearn import metrics as skm

from sentiment_lib.data import feedback, importers
from sentiment_lib.data.dataset import domains_of, read_split
from sentiment_lib.data.schema import LABEL_COLUMN, LABELS, TEXT_COLUMN, labels_to_ids
from sentiment_lib.inference.predictor import Predictions, SentimentPredictor
from sentiment_lib.workspace import Workspace

log = logging.getLogger(__name__)

CALIBRATION_BINS = 10
# an answer this sure and wrong is what loses a user's trust; its share is reported for every set
CONFIDENT = 0.9


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
    probabilities = softmax(logits / temperature, axis=1)
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
        "confident_errors": float(np.mean((y_pred != y_true) & (predictions.confidences >= CONFIDENT))),
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


def by_domain(evaluation: Evaluation, frame: pd.DataFrame) -> list[Evaluation]:
    """``evaluation`` of ``frame`` (the test split) cut into one evaluation per domain, named
    ``test_<domain>``: the same answers, no second prediction. A single-domain split gives none."""
    domains = domains_of(frame).to_numpy()
    if len(set(domains)) < 2:
        return []
    found = []
    for domain in sorted(set(domains)):
        rows = domains == domain
        p = evaluation.predictions
        part = Predictions(
            [label for label, keep in zip(p.labels, rows, strict=True) if keep],
            p.confidences[rows],
            p.positive_probabilities[rows],
        )
        y_true = evaluation.y_true[rows]
        found.append(Evaluation(f"test_{domain}", y_true, part, classification_metrics(y_true, part)))
    return found


DOMAIN_TABLE_METRICS = ["accuracy", "f1", "ece", "confident_errors", "n"]


def domain_table(evaluations: Sequence[Evaluation]) -> pd.DataFrame:
    """One row per set (each domain's test split, SST-2 test, the airline tweets, ...): accuracy, F1, ECE,
    the share of confident errors (wrong at confidence >= 0.9) and the rows."""
    rows = {ev.name.removeprefix("test_"): ev.metrics for ev in evaluations}
    table = pd.DataFrame.from_dict(rows, orient="index", columns=DOMAIN_TABLE_METRICS)
    return table.astype({"n": int})


def prefixed(evaluation: Evaluation) -> dict[str, float]:
    """Metrics named ``<set>_<metric>`` for logging."""
    return {f"{evaluation.name}_{key}": value for key, value in evaluation.metrics.items()}


def evaluation_sets(ws: Workspace) -> dict[str, pd.DataFrame]:
    """Every labelled set a version is scored on: the test split, the held-out feedback (when there is some),
    and the SST-2 test set and airline tweets (off-domain) when their files exist (a missing one is logged).

    Raises:
        DataValidationError: the test split is missing (run the preprocess step first), or a set is malformed.
    """
    frames = {"test": read_split(ws.processed, "test")}
    holdout = feedback.read_feedback_part(ws.processed, "holdout")
    if len(holdout):
        frames["feedback_holdout"] = holdout
    if ws.sst2_test.is_file():
        frames["sst2_test"] = importers.import_sst2(ws.sst2_test.parent, splits=("test",)).frame
    else:
        log.info("%s not found: SST-2 test set skipped", ws.sst2_test)
    # customer tweets, a domain the base model never trained on: how far its accuracy carries
    if ws.airline_test.is_file():
        frames["airline"] = importers.import_airline(ws.airline_test).frame
    else:
        log.info("%s not found: airline tweets skipped", ws.airline_test)
    return frames


def calibration_table(evaluations: Sequence[Evaluation], temperature: float) -> pd.DataFrame:
    """ECE of each set's answers before and after temperature scaling (labels are the same in both)."""
    return pd.DataFrame(
        {
            ev.name: {
                "temperature": temperature,
                "ECE before": ev.metrics["ece_before_temperature"],
                "ECE after": ev.metrics["ece"],
            }
            for ev in evaluations
        }
    )


@dataclass
class BackendComparison:
    """The served back-end against fp32 PyTorch on the same texts."""

    served: Evaluation
    fp32: Evaluation
    served_backend: str

    @property
    def agreement(self) -> float:
        """Share of texts on which both back-ends give the same label."""
        return float((np.array(self.fp32.predictions.labels) == np.array(self.served.predictions.labels)).mean())

    def table(self) -> pd.DataFrame:
        table = pd.DataFrame({self.served_backend: self.served.metrics, "torch fp32": self.fp32.metrics})
        table = table.loc[["accuracy", "f1", "ece"]]
        return table.assign(difference=table.iloc[:, 0] - table.iloc[:, 1])


def tracked_metrics(evaluations: Sequence[Evaluation], comparison: BackendComparison) -> dict[str, float]:
    """Every set's metrics, the fp32 re-score's and the back-ends' agreement, named for the version's run."""
    metrics = {key: value for ev in [*evaluations, comparison.fp32] for key, value in prefixed(ev).items()}
    return {**metrics, "backend_agreement": comparison.agreement}


def compare_with_fp32(
    model_dir: str | Path, evaluations: Sequence[Evaluation], frames: dict[str, pd.DataFrame], backend: str
) -> BackendComparison:
    """Score the SST-2 test set (else the first set) again with the fp32 model and compare."""
    served = next((ev for ev in evaluations if ev.name == "sst2_test"), evaluations[0])
    fp32 = SentimentPredictor.from_directory(model_dir, backend="torch")
    return BackendComparison(served, evaluate_frame(fp32, frames[served.name], f"{served.name}_fp32"), backend)
