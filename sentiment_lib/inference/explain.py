"""Why did the model say that? Word attributions by occlusion, on whatever back-end serves (int8 ONNX included).

Each word (an @mention, #hashtag or punctuation mark counts as one) is removed in turn and the text scored
again, all variants in one batched call. A word's weight is P(positive) with it minus P(positive) without it:
positive weights pushed the answer towards positive, negative ones towards negative, in probability points.
Occlusion needs no gradients, so it explains exactly the model that answers, quantised or not; its cost is
one batch of (words + 1) texts.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Any

MAX_WORDS = 128  # words weighed; the model reads at most max_length word pieces, fewer than this anyway
_TOKEN = re.compile(r"[@#]?\w+(?:'\w+)?|[^\w\s]")


@dataclass(frozen=True)
class Weighted:
    token: str
    start: int  # character offsets in the text
    end: int
    weight: float  # P(positive) with the token minus without it


@dataclass(frozen=True)
class Explanation:
    label: str
    confidence: float
    positive_probability: float
    tokens: list[Weighted]

    def to_dict(self) -> dict[str, Any]:
        return {
            "sentiment": self.label,
            "confidence": round(self.confidence, 6),
            "tokens": [{"token": t.token, "weight": round(t.weight, 6)} for t in self.tokens],
        }

    def strongest(self) -> Weighted | None:
        return max(self.tokens, key=lambda t: abs(t.weight), default=None)


def _without(text: str, start: int, end: int) -> str:
    return " ".join((text[:start] + " " + text[end:]).split())


def explain(predictor: Any, text: str, max_words: int = MAX_WORDS) -> Explanation:
    """The predictor's answer for ``text`` and the weight of each of its first ``max_words`` words."""
    spans = [(m.group(), m.start(), m.end()) for m in _TOKEN.finditer(text)][:max_words]
    variants = [text] + [_without(text, start, end) for _, start, end in spans]
    answers = predictor.predict(variants)
    positive = [float(p) for p in answers.positive_probabilities]
    tokens = [
        Weighted(tok, start, end, positive[0] - p) for (tok, start, end), p in zip(spans, positive[1:], strict=True)
    ]
    return Explanation(answers.labels[0], float(answers.confidences[0]), positive[0], tokens)


def as_text(explanation: Explanation, bar_width: int = 20) -> str:
    """For a terminal: the answer, then each word with its signed weight and a bar (+ towards positive)."""
    lines = [f"{explanation.label} ({explanation.confidence:.3f}); weights are P(positive) points each word adds"]
    scale = max((abs(t.weight) for t in explanation.tokens), default=0) or 1
    for t in explanation.tokens:
        bar = ("+" if t.weight > 0 else "-") * round(bar_width * abs(t.weight) / scale)
        lines.append(f"  {t.token:<20} {t.weight:+.3f} {bar}")
    return "\n".join(lines)


def as_html(text: str, explanation: Explanation) -> str:
    """``text`` with each weighed word shaded: green towards positive, red towards negative, by its weight."""
    scale = max((abs(t.weight) for t in explanation.tokens), default=0) or 1
    parts, cursor = [], 0
    for t in explanation.tokens:
        colour = "0, 150, 0" if t.weight > 0 else "200, 0, 0"
        alpha = round(0.6 * abs(t.weight) / scale, 3)
        parts.append(html.escape(text[cursor : t.start]))
        parts.append(
            f"<span title='{t.weight:+.3f}' style='background: rgba({colour}, {alpha})'>"
            f"{html.escape(text[t.start : t.end])}</span>"
        )
        cursor = t.end
    parts.append(html.escape(text[cursor:]))
    return f"<p><b>{explanation.label}</b> ({explanation.confidence:.2f}): {''.join(parts)}</p>"
