from __future__ import annotations

import random

import numpy as np
import pandas as pd
import pytest

from sentiment_lib import augment, evaluate
from sentiment_lib.predict import Predictions


def test_augmentation_keeps_labels_and_is_seeded():
    frame = pd.DataFrame(
        {
            "Review": ["one two three four five six", "short", "a b c d e f g h"],
            "Sentiment": ["positive", "negative", "negative"],
        }
    )
    out = augment.augment_frame(frame, copies=2, seed=3)
    assert out.iloc[:3].equals(frame)
    assert 3 < len(out) <= 7  # "short" cannot be edited, so it gets no copy
    by_words = {frozenset(text.split()): label for text, label in zip(frame["Review"], frame["Sentiment"], strict=True)}
    for text, label in zip(out["Review"].iloc[3:], out["Sentiment"].iloc[3:], strict=True):
        (source_label,) = [lab for words, lab in by_words.items() if set(text.split()) <= words]
        assert label == source_label
    assert out.equals(augment.augment_frame(frame, copies=2, seed=3))


def test_augment_text_edits_words():
    rng = random.Random(0)
    edited = {augment.augment_text("the quick brown fox jumps over the lazy dog", rng) for _ in range(20)}
    assert len(edited) > 5


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
