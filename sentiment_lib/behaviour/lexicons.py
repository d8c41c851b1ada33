"""The words the behavioural suite's templates are filled with, kept in the repository so that a suite is the
same on every machine and a change to it shows in review.

Every adjective and verb here is unambiguous on its own ("great", "awful"), so that a template's expected label
follows from its structure (negation, contrast), which is what the suite tests, and not from a word's
nuance. Augmentation must not copy these templates' wording (see :mod:`sentiment_lib.data.augment`).
"""

from __future__ import annotations

THINGS = (
    "food", "service", "flight", "movie", "staff", "room", "product", "book", "hotel", "seat",
    "crew", "meal", "show", "app", "delivery",
)  # fmt: skip

POSITIVE_ADJECTIVES = (
    "great", "excellent", "wonderful", "amazing", "fantastic", "good", "lovely", "superb", "delightful",
    "brilliant", "enjoyable", "impressive", "pleasant", "outstanding", "perfect",
)  # fmt: skip

NEGATIVE_ADJECTIVES = (
    "terrible", "awful", "horrible", "bad", "disappointing", "poor", "dreadful", "boring", "rude",
    "unpleasant", "mediocre", "lousy", "frustrating", "miserable", "pathetic",
)  # fmt: skip

POSITIVE_VERBS = (("loved", "love"), ("enjoyed", "enjoy"), ("liked", "like"), ("adored", "adore"))  # past, base
NEGATIVE_VERBS = (("hated", "hate"), ("disliked", "dislike"), ("despised", "despise"), ("loathed", "loathe"))

INTENSIFIERS = ("very", "really", "extremely", "incredibly", "truly", "absolutely", "remarkably")

NAMES = ("Maria", "John", "Aisha", "Chen", "Olga", "Pedro", "Fatima", "Liam", "Yuki", "Kwame", "Priya", "Sven")
PLACES = ("Chicago", "Lagos", "Mumbai", "Berlin", "Lima", "Osaka", "Toronto", "Cairo", "Sydney", "Madrid")
AIRLINES = ("@united", "@JetBlue", "@SouthwestAir", "@AmericanAir", "@USAirways", "@VirginAmerica", "@Delta")

POSITIVE_PHRASES = ("I loved it.", "Highly recommended.", "Absolutely wonderful.", "Best experience ever.")
NEGATIVE_PHRASES = ("I hated it.", "Never again.", "A complete waste of money.", "Worst experience ever.")

# statements with no sentiment of their own, for the directional tests
NEUTRAL_STATEMENTS = (
    "The {thing} arrived on Tuesday.",
    "I went there with {name} last week.",
    "We were in {place} for the {thing}.",
    "The {thing} is about two hours long.",
    "{name} booked the {thing} for us.",
)
