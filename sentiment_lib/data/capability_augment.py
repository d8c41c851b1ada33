"""Training sentences for the capabilities a model fails (``augment_capabilities``): negation, negated
negatives, contrast and outcomes (praise or complaint by plain fact), written from frames and words of their
own.

The behavioural suite (:mod:`sentiment_lib.behaviour`) must stay a test of generalisation, so nothing here
copies it: no template of the suite, and none of its adjectives, verbs or nouns (a test checks both). What
the model may learn is the structure ("not" turns the word after it; the clause after "but" decides), which is
exactly what the suite then measures on words it has not seen in these frames.
"""

from __future__ import annotations

import random
from collections.abc import Callable

import pandas as pd

from sentiment_lib.data.schema import LABEL_COLUMN, TEXT_COLUMN

NEGATIVE, POSITIVE = "negative", "positive"

TOPICS = (
    "acting", "plot", "soundtrack", "ending", "script", "cinematography", "pacing", "dialogue", "cast", "sequel",
    "concert", "restaurant", "waiter", "novel", "museum", "trip", "lecture", "game", "dessert", "journey",
)  # fmt: skip
GOOD = (
    "nice", "fun", "solid", "charming", "terrific", "memorable", "clever", "engaging", "moving", "satisfying",
    "gorgeous", "funny", "thoughtful", "fresh", "stunning", "worthwhile",
)  # fmt: skip
BAD = (
    "dull", "tedious", "clumsy", "bland", "forgettable", "sloppy", "annoying", "tiresome", "weak", "lifeless",
    "predictable", "messy", "painful", "shallow", "ugly", "pointless",
)  # fmt: skip


def _negated(words: tuple[str, ...], frames: tuple[str, ...], label: str) -> Callable[[random.Random], tuple[str, str]]:
    """A generator of one negated adjective of ``words`` in one of ``frames``, every sentence labelled ``label``."""

    def generate(rng: random.Random) -> tuple[str, str]:
        topic, word = rng.choice(TOPICS), rng.choice(words)
        return rng.choice(frames).format(t=topic, w=word), label

    return generate


_negation = _negated(
    GOOD,
    (
        "Honestly, the {t} is not {w}.",
        "Nothing about the {t} felt {w}.",
        "Sadly the {t} isn't {w} in the least.",
        "I wouldn't call the {t} {w}.",
        "The {t}? Not {w}, not even close.",
    ),
    NEGATIVE,
)
_negated_negative = _negated(
    BAD,
    (
        "Honestly, the {t} is not {w} in the least.",
        "Nothing about the {t} felt {w}.",
        "I wouldn't call the {t} {w} at all.",
        "Far from {w}, the {t} kept me hooked.",
        "The {t} is never {w}.",
    ),
    POSITIVE,
)


def _contrast(rng: random.Random) -> tuple[str, str]:
    first, second = rng.sample(TOPICS, 2)
    if rng.random() < 0.5:
        before, after, label = rng.choice(GOOD), rng.choice(BAD), NEGATIVE
    else:
        before, after, label = rng.choice(BAD), rng.choice(GOOD), POSITIVE
    frame = rng.choice(
        (
            "Sure, the {a} is {x}, yet the {b} is {y}.",
            "The {a} starts out {x}; however, the {b} turns {y}.",
            "Although the {a} is {x}, the {b} is {y}.",
            "Yes the {a} was {x}, but overall the {b} was {y}.",
        )
    )
    return frame.format(a=first, b=second, x=before, y=after), label


# outcomes: plain facts whose sentiment lies in what happened (early or late, kept working or broke), not in a
# sentiment word. Customer reviews praise by fact as often as by adjective, and a model that learned only the
# adjectives reads every fact about a parcel, a repayment or a wait as a complaint.
ITEMS = (
    "the parcel", "my order", "the charger", "the blender", "the laptop", "the vacuum", "the jacket", "the printer",
    "the speaker", "the kettle", "the mattress", "the router", "the stroller", "the drill",
)  # fmt: skip
HELPERS = (
    "the help desk", "the seller", "the front desk", "the landlord", "the repair shop", "the bank", "the courier",
    "the dealer", "the agent",
)  # fmt: skip
_GOOD_OUTCOMES = (
    "{item} arrived ahead of the promised date.",
    "{item} arrived the morning after I ordered it.",
    "{helper} answered my email within the hour.",
    "{helper} sorted it out on the first call.",
    "{helper} had my money back to me by the next morning.",
    "Three winters on, {item} has never needed a repair.",
    "Setting up {item} was quicker than making coffee.",
    "{item} came back from repair within that week, fixed.",
    "Not a single scratch on {item} after daily use since spring.",
    "I bought another one for my parents.",
    "My teenagers asked to come back next summer.",
    "The taxi was at the door when we came out.",
    "We extended our stay by two nights.",
    "{helper} swapped {item} without asking a single question.",
)
_BAD_OUTCOMES = (
    "{item} arrived three weeks after the promised date.",
    "{item} still has not arrived.",
    "{helper} answered my email after two weeks.",
    "{helper} kept transferring me from one person to the next.",
    "{helper} still has not paid me back.",
    "{item} stopped turning on within a fortnight.",
    "Setting up {item} ate the entire weekend and it still fails.",
    "{item} came back from repair with its old fault.",
    "{item} was scratched and dented out of the box.",
    "I sent {item} back the next morning.",
    "We checked out two nights early.",
    "The taxi we booked never came.",
    "The replacement broke in exactly that way too.",
    "{helper} asked for the receipt four times and then stopped answering.",
)


def _outcome(rng: random.Random) -> tuple[str, str]:
    label = rng.choice((POSITIVE, NEGATIVE))
    frame = rng.choice(_GOOD_OUTCOMES if label == POSITIVE else _BAD_OUTCOMES)
    text = frame.format(item=rng.choice(ITEMS), helper=rng.choice(HELPERS))
    return text[0].upper() + text[1:], label


GENERATORS: dict[str, Callable[[random.Random], tuple[str, str]]] = {
    "outcomes": _outcome,
    "negation": _negation,
    "negated_negative": _negated_negative,
    "contrast": _contrast,
}


def capability_rows(capabilities: list[str], rows: int, seed: int) -> pd.DataFrame:
    """``rows`` distinct labelled sentences shared out over ``capabilities`` (names of :data:`GENERATORS`).

    Raises:
        ValueError: an unknown capability.
    """
    unknown = sorted(set(capabilities) - set(GENERATORS))
    if unknown:
        raise ValueError(f"augment_capabilities: unknown {unknown}; known: {', '.join(GENERATORS)}")
    rng = random.Random(seed)
    found: dict[str, str] = {}
    for attempt in range(rows * 20):  # the frames and words allow thousands of distinct sentences
        if len(found) >= rows:
            break
        text, label = GENERATORS[capabilities[attempt % len(capabilities)]](rng)
        found.setdefault(text, label)
    return pd.DataFrame({TEXT_COLUMN: list(found), LABEL_COLUMN: list(found.values())})
