"""Occlusion explanations against a model whose reasons are known: the word that decides carries the weight."""

from __future__ import annotations

import re

import numpy as np

from sentiment_lib.inference import explain
from sentiment_lib.inference.predictor import Predictions

POSITIVE, NEGATIVE = {"good", "great", "kind"}, {"bad", "awful", "late"}


class NegationAwareModel:
    """P(positive) from sentiment words, each flipped by a "not" right before it; counts its calls."""

    def __init__(self):
        self.calls = 0

    def score(self, text: str) -> float:
        words = re.findall(r"[a-z']+", text.lower())
        score = 0
        for i, word in enumerate(words):
            sign = 1 if word in POSITIVE else -1 if word in NEGATIVE else 0
            score += -sign if i and words[i - 1] == "not" else sign
        return float(1 / (1 + np.exp(-2 * score)))

    def predict(self, texts):
        self.calls += 1
        positive = np.array([self.score(t) for t in texts])
        labels = ["positive" if p >= 0.5 else "negative" for p in positive]
        return Predictions(labels, np.maximum(positive, 1 - positive), positive)


def test_the_word_that_flips_the_label_carries_the_largest_weight_in_its_direction():
    model = NegationAwareModel()
    cases = {  # text -> (label, the word that decides it, the sign of its weight)
        "The food was good": ("positive", "good", 1),
        "The food was not good": ("negative", "not", -1),
        "The crew was not bad at all": ("positive", "not", 1),
        "The flight was awful": ("negative", "awful", -1),
    }
    for text, (label, word, sign) in cases.items():
        found = explain.explain(model, text)
        assert found.label == label and found.strongest().token == word, (text, found)
        assert np.sign(found.strongest().weight) == sign
    assert model.calls == len(cases)  # one batched call per explanation


def test_tokens_keep_their_place_and_mentions_stay_whole():
    found = explain.explain(NegationAwareModel(), "@united was late, not kind!")
    assert [t.token for t in found.tokens] == ["@united", "was", "late", ",", "not", "kind", "!"]
    assert [(t.start, t.end) for t in found.tokens][:2] == [(0, 7), (8, 11)]
    assert explain.explain(NegationAwareModel(), "good " * 200, max_words=10).tokens[-1].start == 45


def test_text_and_html_renderings_show_sign_and_strength():
    found = explain.explain(NegationAwareModel(), "not <good>")
    text = explain.as_text(found)
    assert text.startswith("negative (") and re.search(r"not\s+-0\.\d+ -+$", text.splitlines()[1])
    page = explain.as_html("not <good>", found)
    assert "&lt;" in page and "<good>" not in page and "rgba(200, 0, 0, 0.6)" in page  # "not": strongest, red
