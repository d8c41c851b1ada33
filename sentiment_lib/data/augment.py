"""Optional training-data augmentation (off by default): label-preserving word edits.

Random deletion and random swap of a few words (Wei & Zou, 2019, "EDA") need no external model, which
matters on machines without a model hub. Only the training split is ever augmented.
"""

from __future__ import annotations

import random

import pandas as pd

from sentiment_lib.data.schema import TEXT_COLUMN

_EDIT_RATE = 0.1


def _delete_words(words: list[str], rng: random.Random) -> list[str]:
    kept = [w for w in words if rng.random() > _EDIT_RATE]
    return kept or [rng.choice(words)]


def _swap_words(words: list[str], rng: random.Random) -> list[str]:
    words = list(words)
    for _ in range(max(1, int(len(words) * _EDIT_RATE))):
        i, j = rng.randrange(len(words)), rng.randrange(len(words))
        words[i], words[j] = words[j], words[i]
    return words


def augment_text(text: str, rng: random.Random) -> str:
    """One edited copy of ``text``: either some words deleted or some swapped."""
    words = text.split()
    if len(words) < 3:
        return text
    edit = _delete_words if rng.random() < 0.5 else _swap_words
    return " ".join(edit(words, rng))


def augment_frame(frame: pd.DataFrame, copies: int, seed: int) -> pd.DataFrame:
    """Return ``frame`` plus ``copies`` edited copies of each row (copies equal to a source are skipped)."""
    rng = random.Random(seed)
    extra = []
    for _ in range(copies):
        edited = frame.copy()
        edited[TEXT_COLUMN] = [augment_text(t, rng) for t in frame[TEXT_COLUMN]]
        extra.append(edited[edited[TEXT_COLUMN] != frame[TEXT_COLUMN]])
    return pd.concat([frame, *extra], ignore_index=True)
