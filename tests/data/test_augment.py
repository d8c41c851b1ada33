from __future__ import annotations

import random

import pandas as pd

from sentiment_lib.data import augment


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
