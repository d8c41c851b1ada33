"""What changed between the training inputs and recent inputs: the explanation beside the drift check's AUC.

A drift alert that only says "AUC 0.997" leaves the operator to guess what moved. Whenever the drift test runs
(fired or not), three views of the same two samples are kept with the verdict:

* the word n-grams the domain classifier weighs most towards recent texts (and a few towards training
  texts), each with the share of texts on either side that contain it;
* the champion's share of positive predictions on recent vs training texts, with Fisher's exact test;
* simple descriptors of the texts (length, URLs, @mentions, #hashtags, emoji, non-English text).

:class:`DriftExplanation` is the result; its :meth:`~DriftExplanation.to_dict` form goes into ``verdict.json``,
and :mod:`sentiment_lib.monitoring.drift_rendering` shows it (email lines, the notebook's tables). The features and
the domain classifier itself belong to :mod:`sentiment_lib.monitoring.checks.drift`; this module only reads them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.stats import fisher_exact

from sentiment_lib import text_features as tf
from sentiment_lib.data.schema import LABELS
from sentiment_lib.monitoring.checks import language

POSITIVE = LABELS[-1]
TOP_RECENT, TOP_REFERENCE = 10, 5  # n-grams reported for each side: recent texts are what the operator asks about


@dataclass(frozen=True)
class NgramShift:
    """One word n-gram of the domain classifier, with how often it occurs on each side."""

    ngram: str
    weight: float  # its coefficient: > 0 pushes towards "recent", < 0 towards "training"
    recent_share: float  # share of recent texts that contain it
    reference_share: float  # share of training texts that contain it


@dataclass(frozen=True)
class LabelShift:
    """The champion's share of positive predictions on recent vs training texts."""

    reference_positive_share: float
    recent_positive_share: float
    reference_texts: int
    recent_texts: int
    p_value: float  # two-sided Fisher exact test that both shares are the same

    @property
    def difference(self) -> float:
        return self.recent_positive_share - self.reference_positive_share


@dataclass(frozen=True)
class DescriptorShift:
    """One descriptor (a mean over texts) on training and on recent texts."""

    name: str
    description: str
    reference: float
    recent: float

    @property
    def difference(self) -> float:
        return self.recent - self.reference


@dataclass(frozen=True)
class DriftExplanation:
    """What separates the recent texts of a drift test from its training texts."""

    recent_texts: int
    reference_texts: int
    typical_of_recent: list[NgramShift]  # largest positive weights first
    typical_of_reference: list[NgramShift]  # largest negative weights first
    descriptors: list[DescriptorShift]
    label_shift: LabelShift | None = None  # None when no predictions were given

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict (rounded numbers, NaN as None): the ``drift_explanation`` of ``verdict.json``."""
        shift = self.label_shift
        return {
            "recent_texts": self.recent_texts,
            "reference_texts": self.reference_texts,
            "typical_of_recent": [_ngram_dict(n) for n in self.typical_of_recent],
            "typical_of_reference": [_ngram_dict(n) for n in self.typical_of_reference],
            "label_shift": None
            if shift is None
            else {
                "label": POSITIVE,
                "reference_share": _number(shift.reference_positive_share),
                "recent_share": _number(shift.recent_positive_share),
                "difference": _number(shift.difference),
                "p_value": _number(shift.p_value, digits=None),
                "test": "Fisher exact, two-sided",
            },
            "descriptors": [
                {
                    "name": d.name,
                    "description": d.description,
                    "reference": _number(d.reference),
                    "recent": _number(d.recent),
                    "difference": _number(d.difference),
                }
                for d in self.descriptors
            ],
        }


def _number(value: float, digits: int | None = 4) -> float | None:
    """A float JSON can carry: NaN and infinities become None (``json`` would write invalid ``NaN``)."""
    value = float(value)
    if not math.isfinite(value):
        return None
    return value if digits is None else round(value, digits)


def _ngram_dict(ngram: NgramShift) -> dict[str, Any]:
    return {
        "ngram": ngram.ngram,
        "weight": _number(ngram.weight, 3),
        "recent_share": _number(ngram.recent_share),
        "reference_share": _number(ngram.reference_share),
    }


def top_ngrams(
    features: Any,
    names: Sequence[str],
    weights: np.ndarray,
    is_recent: np.ndarray,
    top: int = TOP_RECENT,
    bottom: int = TOP_REFERENCE,
) -> tuple[list[NgramShift], list[NgramShift]]:
    """The n-grams with the largest positive weights (typical of recent texts) and the largest negative ones.

    Args:
        features: the n-gram columns of the domain classifier's feature matrix (rows: texts; a non-zero
            entry means the text contains the n-gram), dense or sparse.
        names: the n-gram of each column.
        weights: the domain classifier's coefficient of each column (recent texts are the positive class).
        is_recent: 1 for each row that is a recent text, 0 for a training text.
        top: how many n-grams typical of recent texts to report.
        bottom: how many typical of training texts.

    Returns:
        (typical of recent texts, typical of training texts), strongest first; an n-gram is reported only on
        the side its weight points to, so either list may be shorter.
    """
    weights = np.asarray(weights, dtype=float)
    order = np.argsort(weights, kind="stable")
    recent_side = [i for i in order[::-1][:top] if weights[i] > 0]
    reference_side = [i for i in order[:bottom] if weights[i] < 0]
    present = features[:, recent_side + reference_side] != 0
    present = present.toarray() if hasattr(present, "toarray") else np.asarray(present)
    recent_rows = np.asarray(is_recent).astype(bool)
    recent_share, reference_share = present[recent_rows].mean(axis=0), present[~recent_rows].mean(axis=0)
    shifts = [
        NgramShift(str(names[i]), float(weights[i]), float(recent_share[k]), float(reference_share[k]))
        for k, i in enumerate(recent_side + reference_side)
    ]
    return shifts[: len(recent_side)], shifts[len(recent_side) :]


def label_share_shift(
    reference_labels: Sequence[str], recent_labels: Sequence[str], positive: str = POSITIVE
) -> LabelShift:
    """The share of ``positive`` among predicted labels on each side, and Fisher's exact test of the difference.

    A shift here with no drift in the texts would point at the model; drift with no shift is a change the
    model takes in its stride (or one it gets wrong evenly: only labelled feedback tells).
    """
    reference_hits, recent_hits = _count(reference_labels, positive), _count(recent_labels, positive)
    n_reference, n_recent = len(reference_labels), len(recent_labels)
    if n_reference and n_recent:
        table = [[recent_hits, n_recent - recent_hits], [reference_hits, n_reference - reference_hits]]
        p_value = float(fisher_exact(table).pvalue)
    else:
        p_value = float("nan")  # nothing to compare: to_dict writes None
    shares = _share(reference_hits, n_reference), _share(recent_hits, n_recent)
    return LabelShift(*shares, n_reference, n_recent, p_value)


def _count(labels: Sequence[str], positive: str) -> int:
    return int(sum(label == positive for label in labels))


def _share(hits: int, n: int) -> float:
    return hits / n if n else float("nan")


# descriptor name -> (what it is, per-text value); each descriptor is the mean of its value over texts
DESCRIPTORS: dict[str, tuple[str, Callable[[str], float]]] = {
    "mean_words": ("mean length in words", lambda t: len(t.split())),
    "url_share": ("share of texts with a URL", tf.has_url),
    "mention_share": ("share of texts with an @mention", tf.has_mention),
    "hashtag_share": ("share of texts with a #hashtag", lambda t: bool(tf.HASHTAG.search(t))),
    "emoji_share": ("share of texts with emoji", tf.has_emoji),
    "non_english_share": ("share of texts not in English (heuristic)", lambda t: not language.looks_english(t)),
}


def describe(texts: Sequence[str]) -> dict[str, float]:
    """Each of :data:`DESCRIPTORS` over ``texts`` (NaN for no texts)."""
    return {
        name: float(np.mean([value(t) for t in texts])) if len(texts) else float("nan")
        for name, (_, value) in DESCRIPTORS.items()
    }


def descriptor_shifts(reference: Sequence[str], recent: Sequence[str]) -> list[DescriptorShift]:
    """Each descriptor on training and on recent texts."""
    before, after = describe(reference), describe(recent)
    return [DescriptorShift(name, about, before[name], after[name]) for name, (about, _) in DESCRIPTORS.items()]
