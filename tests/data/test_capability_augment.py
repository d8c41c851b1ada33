"""Capability augmentation teaches structure without copying the behavioural suite it is judged by."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from sentiment_lib.behaviour import lexicons as lx
from sentiment_lib.behaviour import suite as bs
from sentiment_lib.data import capability_augment as ca
from sentiment_lib.errors import ConfigError
from sentiment_lib.settings import Settings


def test_augmentation_shares_no_sentence_and_no_content_word_with_the_suite():
    rows = ca.capability_rows(list(ca.GENERATORS), 3000, seed=0)
    assert len(rows) == 3000 and rows["Review"].is_unique
    suite_texts = set(bs.suite_texts(bs.build_suite(10_000, seed=0)))
    assert not suite_texts & set(rows["Review"])
    suite_words = set(lx.THINGS) | set(lx.POSITIVE_ADJECTIVES) | set(lx.NEGATIVE_ADJECTIVES)
    suite_words |= {w for pair in lx.POSITIVE_VERBS + lx.NEGATIVE_VERBS for w in pair}
    ours = set(ca.TOPICS) | set(ca.GOOD) | set(ca.BAD)
    assert not suite_words & ours


def test_each_sentence_carries_the_label_its_structure_gives():
    rows = ca.capability_rows(["negation", "negated_negative", "contrast"], 900, seed=1)
    for text, label in zip(rows["Review"], rows["Sentiment"], strict=True):
        adjectives = [w for w in re.findall(r"[a-z]+", text.lower()) if w in ca.GOOD or w in ca.BAD]
        if len(adjectives) == 2:  # contrast: the second clause decides
            judged = "positive" if adjectives[-1] in ca.GOOD else "negative"
        else:  # a negated adjective: a good one reads negative, a bad one positive
            judged = "negative" if adjectives[0] in ca.GOOD else "positive"
        assert label == judged, text
    assert 0.4 < (rows["Sentiment"] == "positive").mean() < 0.6


def test_unknown_capabilities_are_refused_up_front():
    assert Settings(augment_capabilities="negation, contrast").augment_capabilities
    with pytest.raises(ConfigError, match=r"augment_capabilities: unknown \['sarcasm'\]; known: outcomes, negation"):
        Settings(augment_capabilities="negation,sarcasm")


def test_outcome_sentences_share_no_content_word_with_the_everyday_reviews_the_demo_is_held_to():
    rows = ca.capability_rows(["outcomes"], 300, seed=0)
    assert set(rows["Sentiment"]) == {"positive", "negative"}
    everyday = Path(__file__).parents[1] / "fixtures" / "everyday_positive_reviews.csv"
    held_out = _content_words(" ".join(pd.read_csv(everyday)["Review"]))
    assert not _content_words(" ".join(rows["Review"])) & held_out
    assert not _content_words(" ".join(rows["Review"])) & set(lx.THINGS)


def _content_words(text: str) -> set[str]:
    words = set(re.findall(r"[a-z]+", text.lower()))
    function_words = {"after", "about", "with", "when", "were", "have", "this", "that", "still"}
    return {w for w in words if len(w) > 3} - function_words
