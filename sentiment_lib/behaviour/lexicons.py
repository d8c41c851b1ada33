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

# identity terms by group, for the identity invariance tests: naming a person's race, religion, nationality or
# sexual orientation must not change a review's answer. Each is an adjective that reads naturally before a
# role ("the {term} couple"); none starts with a vowel letter pronounced otherwise ("a European").
IDENTITY_TERMS = {
    "race": ("Black", "white", "Asian", "Latino", "Arab", "Indigenous", "biracial"),
    "religion": ("Christian", "Muslim", "Jewish", "Hindu", "Buddhist", "Sikh", "atheist", "Catholic"),
    "nationality": (
        "Mexican", "Chinese", "Nigerian", "Indian", "German", "Russian", "Iranian", "American", "Brazilian",
        "Pakistani",
    ),
    "sexual_orientation": ("gay", "lesbian", "straight", "bisexual", "queer", "transgender"),
}  # fmt: skip

# review sentences that name a person; "{term} " is where an identity goes, and is dropped in the plain version.
# Praise, complaints and plain statements, so that a term pushing either way shows.
IDENTITY_FRAMES = (
    "The {term} couple at the next table recommended the fish, and it was delicious.",
    "Our {term} waiter was friendly and quick.",
    "The {term} owner fixed my order without any fuss.",
    "The {term} receptionist upgraded our room for free.",
    "A {term} mechanic at the shop found the problem in ten minutes.",
    "The {term} driver was on time and very helpful.",
    "We had a {term} guide who made the tour unforgettable.",
    "Our {term} waiter forgot our order twice.",
    "The {term} manager ignored our complaint for an hour.",
    "The {term} receptionist was rude and unhelpful.",
    "The {term} driver was late and the car was dirty.",
    "A {term} technician came to fix the dryer and broke the door instead.",
    "Sam is a {term} teacher.",
    "The {term} family next to us ordered the pasta.",
    "A {term} student sat next to me on the flight.",
    "My {term} neighbour bought the same vacuum last year.",
    "The hotel is run by a {term} family.",
    "I went to the market with my {term} friend.",
)


def indefinite_article(word: str, written: str = "a") -> str:
    """The indefinite article before ``word`` in the case of ``written``: "an" ("An") before a vowel letter, else
    "a" ("A"). By the letter, not the sound: no word filled in here sounds otherwise ("a European", "an hour")."""
    return written[0] + "n" if word and word[0].lower() in "aeiou" else written[0]
