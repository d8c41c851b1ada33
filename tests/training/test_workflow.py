"""What a retrain trains on: the base split, every feedback training row (weighted), capability sentences."""

from __future__ import annotations

import pandas as pd

from sentiment_lib.serving.served_log import ServedLog
from sentiment_lib.settings import Settings
from sentiment_lib.training.workflow import load_training_rows
from sentiment_lib.workspace import Workspace


def workspace_with_feedback(tmp_path, **settings) -> Workspace:
    levers = {"augment_capabilities": "", "identity_augment_rows": 0}  # rows of their own, tested below and elsewhere
    ws = Workspace(tmp_path, Settings(max_train_samples=100, max_eval_samples=0, **{**levers, **settings}))
    ws.processed.mkdir(parents=True)
    base = pd.DataFrame({"Review": [f"base {i}" for i in range(300)], "Sentiment": ["positive", "negative"] * 150})
    base.to_csv(ws.processed / "train.csv", index=False)
    base.head(20).to_csv(ws.processed / "validation.csv", index=False)
    tweets = pd.DataFrame({"Review": [f"@united {i}" for i in range(10)], "Sentiment": ["negative"] * 10})
    tweets.to_csv(ws.processed / "feedback_train.csv", index=False)
    return ws


def test_feedback_rows_count_feedback_weight_times_and_are_never_sampled_away(tmp_path):
    plain = load_training_rows(workspace_with_feedback(tmp_path / "a"))
    assert plain.feedback_rows == 10 and plain.train["Review"].str.startswith("@united").sum() == 10
    assert len(plain.train) == 100  # 90 base rows fill up to max_train_samples
    weighted = load_training_rows(workspace_with_feedback(tmp_path / "b", feedback_weight=3)).train
    assert weighted["Review"].str.startswith("@united").sum() == 30 and len(weighted) == 100
    assert weighted["Review"].value_counts()["@united 0"] == 3


def test_capability_sentences_are_added_when_asked(tmp_path):
    ws = workspace_with_feedback(tmp_path, augment_capabilities="negation", augment_capability_rows=40)
    train = load_training_rows(ws).train
    assert len(train) == 140 and train["Review"].str.contains(r"\bnot\b|n't|Nothing").sum() >= 40


def test_a_student_learns_from_served_texts_first_then_training_texts_the_cap_left_out(tmp_path):
    ws = workspace_with_feedback(tmp_path / "a", layers=3, student_unlabelled_rows=50)
    ServedLog(ws.served_log, max_text_chars=12).record(
        ["served one", "served two", "a served text cut by the log"], ["positive"] * 3, [0.9] * 3, "1"
    )
    rows = load_training_rows(ws)
    assert rows.unlabelled[:2] == ["served one", "served two"]  # the cut one is not a text anyone sent
    rest = rows.unlabelled[2:]
    assert len(rest) == 48 and all(text.startswith("base ") for text in rest)
    assert not set(rest) & set(rows.train["Review"]) and len(set(rest)) == 48
    assert load_training_rows(ws).unlabelled == rows.unlabelled  # seeded
    assert load_training_rows(workspace_with_feedback(tmp_path / "b")).unlabelled == []  # full depth: no student
