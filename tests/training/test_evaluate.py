from __future__ import annotations

import numpy as np
import pytest

from sentiment_lib.inference.predictor import Predictions
from sentiment_lib.training import evaluate


def predictions(labels, confidences):
    confidences = np.array(confidences)
    p_pos = np.where(np.array(labels) == "positive", confidences, 1 - confidences)
    return Predictions(list(labels), confidences, p_pos)


def test_metrics_on_known_predictions():
    y_true = np.array([1, 1, 0, 0])
    preds = predictions(["positive", "negative", "negative", "negative"], [0.9, 0.6, 0.8, 0.7])
    m = evaluate.classification_metrics(y_true, preds)
    assert m["accuracy"] == 0.75
    assert m["precision"] == 1.0
    assert m["recall"] == 0.5
    assert m["f1"] == pytest.approx(2 / 3)
    assert m["roc_auc"] == 1.0  # every positive has a higher P(positive) than every negative


def test_expected_calibration_error():
    confidences = np.array([0.9] * 10 + [0.6] * 10)
    correct = np.array([1] * 9 + [0] + [1] * 6 + [0] * 4)
    assert evaluate.expected_calibration_error(confidences, correct) == pytest.approx(0.0)
    overconfident = np.array([1] * 5 + [0] * 5 + [1] * 6 + [0] * 4)
    # first bin: confidence 0.9, accuracy 0.5 -> gap 0.4 on half the rows
    assert evaluate.expected_calibration_error(confidences, overconfident) == pytest.approx(0.2)


def test_confident_errors_and_the_cut_by_domain():
    import pandas as pd

    frame = pd.DataFrame(
        {
            "Review": list("abcdef"),
            "Sentiment": ["positive", "negative", "positive", "negative", "positive", "positive"],
            "domain": ["hotels", "hotels", "hotels", "movies", "movies", "movies"],
        }
    )
    y_true = np.array([1, 0, 1, 0, 1, 1])
    # hotels: one confident error (0.95), movies: one unsure error (0.6)
    preds = predictions(
        ["positive", "positive", "positive", "negative", "negative", "positive"], [0.9, 0.95, 0.8, 0.9, 0.6, 0.99]
    )
    whole = evaluate.Evaluation("test", y_true, preds, evaluate.classification_metrics(y_true, preds))
    assert whole.metrics["confident_errors"] == pytest.approx(1 / 6)
    parts = {ev.name: ev.metrics for ev in evaluate.by_domain(whole, frame)}
    assert parts["test_hotels"]["accuracy"] == pytest.approx(2 / 3)
    assert parts["test_hotels"]["confident_errors"] == pytest.approx(1 / 3)
    assert parts["test_movies"]["confident_errors"] == 0.0 and parts["test_movies"]["n"] == 3
    table = evaluate.domain_table(evaluate.by_domain(whole, frame))
    assert list(table.index) == ["hotels", "movies"] and table.loc["movies", "accuracy"] == pytest.approx(2 / 3)
    assert evaluate.by_domain(whole, frame.drop(columns="domain")) == []


def test_the_domain_table_of_no_set_is_empty_with_its_columns():
    assert list(evaluate.domain_table([]).columns) == evaluate.DOMAIN_TABLE_METRICS
