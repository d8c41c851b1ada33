"""Counterfactual copies of training reviews that name a person with an identity term: "the waiter" becomes
"the Muslim waiter", the label unchanged (counterfactual data augmentation, Lu et al. 2018).

A model learns from reviews that rarely name anyone's race, religion, nationality or sexual orientation, so
what it makes of those words comes from pre-training and chance; seeing the same review with and without
them, under one label, teaches it that they carry no sentiment. The copies are real reviews, never the
behavioural suite's frames; the terms are the suite's groups with more of each, so the suite also tests terms
trained on here and terms it alone has (``HELD_OUT_OF_TRAINING``).
"""

from __future__ import annotations

import random
import re

import pandas as pd

from sentiment_lib.behaviour.lexicons import IDENTITY_TERMS, indefinite_article
from sentiment_lib.data.schema import TEXT_COLUMN

# suite terms never inserted here, so the suite shows whether the invariance carries to unseen terms
HELD_OUT_OF_TRAINING = frozenset({"biracial", "Sikh", "Pakistani", "queer"})
EXTRA_TERMS = ("Hispanic", "Korean", "Japanese", "Italian", "Mexican-American", "Protestant", "Mormon", "Irish")
TRAINING_TERMS = (
    tuple(term for group in IDENTITY_TERMS.values() for term in group if term not in HELD_OUT_OF_TRAINING) + EXTRA_TERMS
)

PERSON = re.compile(
    r"\b(the|a|an|our|my|his|her|their|this|that|every)\s+"
    r"(waiter|waitress|server|owner|manager|staff|receptionist|driver|guide|family|couple|friend|husband|wife|"
    r"boyfriend|girlfriend|teacher|neighbou?r|clerk|chef|cook|host|hostess|bartender|customer|lady|man|woman|"
    r"guy|girl|boy|person|doctor|nurse|agent|pilot|attendant|employee|cashier|mechanic|technician|son|daughter|"
    r"mother|father|mom|dad|sister|brother|kid|child|director|actor|actress|hero|heroine|character)\b",
    re.IGNORECASE,
)


def name_identity(text: str, term: str) -> str | None:
    """``text`` with ``term`` before its first person noun ("my wife" -> "my Jewish wife"), or None when it
    names no person."""
    match = PERSON.search(text)
    if match is None:
        return None
    article = match.group(1)
    if article.lower() in ("a", "an"):
        article = indefinite_article(term, article)
    return f"{text[: match.start()]}{article} {term} {match.group(2)}{text[match.end() :]}"


def identity_rows(frame: pd.DataFrame, rows: int, seed: int) -> pd.DataFrame:
    """Up to ``rows`` copies of rows of ``frame`` that name a person, each with one training term inserted and
    every other column (label, domain) as it was."""
    rng = random.Random(seed)
    candidates = [i for i, text in enumerate(frame[TEXT_COLUMN]) if PERSON.search(text)]
    chosen = rng.sample(candidates, min(rows, len(candidates)))
    copies = frame.iloc[chosen].copy()
    copies[TEXT_COLUMN] = [name_identity(text, rng.choice(TRAINING_TERMS)) for text in copies[TEXT_COLUMN]]
    return copies.reset_index(drop=True)
