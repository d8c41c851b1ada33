"""Slices, confident mistakes and two-version comparisons on small frames whose answers are known."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sentiment_lib import text_features as tf
from sentiment_lib.explore import compare, mistakes, slices
from sentiment_lib.inference.predictor import Predictions

FRAME = pd.DataFrame(
    {
        "Review": [
            "not good at all",  # negation, 4 words
            "@united lost my bag again, but the crew was kind",
            "is this the best movie of the year?",
            "great 😀",
            "NEVER flying with them again http://t.co/x",
            "a fine film",
        ],
        "Sentiment": ["negative", "positive", "positive", "positive", "negative", "positive"],
        "source": ["a", "b", "b", "a", "b", "a"],
        "timestamp": pd.date_range("2026-01-01", periods=6, freq="D").astype(str),
    }
)


def answers(labels: list[str], confidences: list[float]) -> Predictions:
    confidences = np.array(confidences)
    positive = np.where(np.array(labels) == "positive", confidences, 1 - confidences)
    return Predictions(labels, confidences, positive)


# wrong on rows 0 (confidently), 2 and 4
MODEL = answers(
    ["positive", "positive", "negative", "positive", "positive", "positive"], [0.95, 0.8, 0.6, 0.9, 0.7, 0.85]
)


def test_text_features_answer_what_people_mean():
    assert tf.has_negation("I don't know") and tf.has_negation("never again") and not tf.has_negation("nothingness")
    assert tf.has_contrast("fine, but slow") and not tf.has_contrast("butter")
    assert tf.has_mention("@united hi") and not tf.has_mention("mail me at a@b.com")
    assert tf.shouts("NEVER again") and not tf.shouts("@SouthwestAir OK") and not tf.shouts("see http://T.CO/ABC")


def test_each_slice_has_its_rows_and_numbers():
    table = slices.slice_table(FRAME, MODEL)
    assert table.loc["all", "rows"] == 6 and table.loc["all", "accuracy"] == pytest.approx(3 / 6)
    negation = table.loc["negation (not, never, n't...)"]
    assert negation["rows"] == 2 and negation["accuracy"] == 0  # "not good", "NEVER flying"
    assert negation["overconfidence"] == pytest.approx((0.95 + 0.7) / 2)
    assert table.loc["contrast (but, although...)", "rows"] == 1 and table.loc["question", "accuracy"] == 0
    assert table.loc["@mention", "rows"] == 1 and table.loc["emoji", "rows"] == 1 and table.loc["URL", "rows"] == 1
    assert table.loc["a word in capitals", "rows"] == 1  # NEVER; not @united, not the URL
    assert table.loc["1-5 words", "rows"] == 3 and table.loc["source b", "accuracy"] == pytest.approx(1 / 3)
    windows = [name for name in table.index if name.startswith("time ")]
    assert len(windows) == 4 and table.loc[windows, "rows"].sum() == 6
    assert table["ece"].between(0, 1).all() and table.loc["all", "share"] == 1


def test_slices_without_enough_rows_are_left_out():
    table = slices.slice_table(FRAME.drop(columns=["source", "timestamp"]), MODEL, min_rows=2)
    assert "question" not in table.index and "1-5 words" in table.index
    assert not any(name.startswith(("source", "time")) for name in table.index)


def test_the_most_confident_mistakes_come_first():
    found = mistakes.confident_mistakes(FRAME, MODEL, limit=2)
    assert found["text"].tolist() == ["not good at all", "NEVER flying with them again http://t.co/x"]
    assert found["confidence"].tolist() == [0.95, 0.7] and set(found["predicted"]) == {"positive"}


def test_two_versions_compared_where_they_disagree():
    other = answers(
        ["negative", "positive", "positive", "positive", "positive", "negative"], [0.9, 0.8, 0.7, 0.9, 0.6, 0.55]
    )
    table = compare.agreement_table(FRAME, MODEL, other, ("v1", "v2"))
    assert (table["both right"], table["only v1 right"], table["only v2 right"], table["both wrong"]) == (2, 1, 2, 1)
    assert table["p-value: v2 better (McNemar)"] == pytest.approx(0.5)
    shown = compare.disagreements(FRAME, MODEL, other, ("v1", "v2"))
    # the most confident disagreement first (by the more confident of the two answers)
    assert shown["text"].tolist() == ["not good at all", "a fine film", "is this the best movie of the year?"]
    assert shown["right"].tolist() == ["v2", "v1", "v2"] and shown["v1"].iloc[0] == "positive (0.95)"


def test_slices_compared_across_versions():
    other = answers(["negative"] * 6, [0.9] * 6)  # right only on the two negative rows
    table = slices.compare_slices(FRAME, {"v1": MODEL, "v2": other})
    assert list(table.columns) == ["rows", "accuracy v1", "accuracy v2", "change"]
    assert table.loc["negation (not, never, n't...)", "accuracy v2"] == 1.0
    assert table.loc["all", "change"] == pytest.approx(2 / 6 - 3 / 6)
    assert list(slices.compare_slices(FRAME, {"v1": MODEL}).columns) == ["rows", "accuracy v1", "change"]
