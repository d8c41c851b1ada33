"""A behavioural test suite in the manner of CheckList (Ribeiro et al., ACL 2020): per capability, cases
generated from templates and the lexicons in :mod:`~sentiment_lib.behaviour.lexicons`.

Three kinds of case:

- ``MFT`` (minimum functionality): one text with the label any sentiment model must give it;
- ``INV`` (invariance): a text and variants that must not change its predicted label (another name, place or
  airline; a typo; other casing);
- ``DIR`` (directional): a text and a changed one whose P(positive) must move the stated way, or at least not
  the other way by more than :data:`DIRECTION_TOLERANCE`; with a label, the changed text must also get it.

Overall accuracy hides these: a model can score 89% on SST-2 and still read "not bad at all" as negative.
"""

from __future__ import annotations

import itertools
import random
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from sentiment_lib.behaviour import lexicons as lx

NEGATIVE, POSITIVE = "negative", "positive"
DIRECTION_TOLERANCE = 0.05  # of P(positive): what a directional case may move the wrong way and still pass
UP, DOWN = "up", "down"


@dataclass(frozen=True)
class Case:
    capability: str
    kind: str  # MFT, INV or DIR
    texts: tuple[str, ...]  # MFT: the text; INV: the text, then its variants; DIR: the text, then the changed one
    label: str = ""  # MFT: the expected label; DIR: the changed text's, when it must have one
    direction: str = ""  # DIR: UP or DOWN, the way P(positive) must move

    def passes(self, positive: Callable[[str], float]) -> bool:
        """Whether a model whose P(positive) of each text is ``positive(text)`` passes this case."""
        if self.kind == "MFT":
            return _label(positive(self.texts[0])) == self.label
        if self.kind == "INV":
            return len({_label(positive(t)) for t in self.texts}) == 1
        moved = positive(self.texts[1]) - positive(self.texts[0])
        right_way = moved >= -DIRECTION_TOLERANCE if self.direction == UP else moved <= DIRECTION_TOLERANCE
        return right_way and (not self.label or _label(positive(self.texts[1])) == self.label)


def _label(p_positive: float) -> str:
    return POSITIVE if p_positive >= 0.5 else NEGATIVE


def _fill(template: str, **words: str) -> str:
    text = template.format(**words)
    return text[0].upper() + text[1:]


def _adjectives() -> Iterator[tuple[str, str, str]]:
    """(adjective, its label, the other label) for every adjective."""
    for adjective in lx.POSITIVE_ADJECTIVES:
        yield adjective, POSITIVE, NEGATIVE
    for adjective in lx.NEGATIVE_ADJECTIVES:
        yield adjective, NEGATIVE, POSITIVE


def vocabulary() -> Iterator[Case]:
    templates = ("The {thing} was {adj}.", "What {a} {adj} {thing}!", "It is {a} {adj} {thing}.")
    for (adjective, label, _), thing, template in itertools.product(_adjectives(), lx.THINGS, templates):
        text = _fill(template, thing=thing, adj=adjective, a=lx.indefinite_article(adjective))
        yield Case("vocabulary", "MFT", (text,), label)
    verbs = [(past, POSITIVE) for past, _ in lx.POSITIVE_VERBS] + [(past, NEGATIVE) for past, _ in lx.NEGATIVE_VERBS]
    for (past, label), thing in itertools.product(verbs, lx.THINGS):
        yield Case("vocabulary", "MFT", (f"I {past} the {thing}.",), label)


def negation() -> Iterator[Case]:
    """A positive word negated reads negative."""
    templates = ("The {thing} was not {adj}.", "The {thing} wasn't {adj}.", "I don't think the {thing} was {adj}.")
    for adjective, thing, template in itertools.product(lx.POSITIVE_ADJECTIVES, lx.THINGS, templates):
        yield Case("negation", "MFT", (_fill(template, thing=thing, adj=adjective),), NEGATIVE)
    for (_, base), thing in itertools.product(lx.POSITIVE_VERBS, lx.THINGS):
        yield Case("negation", "MFT", (f"I did not {base} the {thing}.",), NEGATIVE)


def negated_negative() -> Iterator[Case]:
    """A negative word negated reads positive ("not bad at all")."""
    templates = (
        "The {thing} was not {adj} at all.",
        "The {thing} wasn't {adj} at all.",
        "The {thing} was never {adj}.",
    )
    for adjective, thing, template in itertools.product(lx.NEGATIVE_ADJECTIVES, lx.THINGS, templates):
        yield Case("negated_negative", "MFT", (_fill(template, thing=thing, adj=adjective),), POSITIVE)


def contrast() -> Iterator[Case]:
    """With "but", the clause after it decides."""
    templates = (
        "I thought the {thing} would be {adj}, but it was {other}.",
        "The {thing} seemed {adj} at first, but in the end it was {other}.",
    )
    for (adjective, _, after), thing, template in itertools.product(_adjectives(), lx.THINGS, templates):
        other = _opposite_of(adjective, after)
        yield Case("contrast", "MFT", (_fill(template, thing=thing, adj=adjective, other=other),), after)
    for (adjective, label, after), (thing, second) in itertools.product(_adjectives(), _pairs(lx.THINGS)):
        ending = "ruined it" if label == POSITIVE else "made up for it"
        text = f"The {thing} was {adjective}, but the {second} {ending}."
        yield Case("contrast", "MFT", (text,), after)


def _opposite_of(adjective: str, label: str) -> str:
    """An adjective with ``label``, picked by the adjective it contrasts with (deterministic)."""
    words = lx.POSITIVE_ADJECTIVES if label == POSITIVE else lx.NEGATIVE_ADJECTIVES
    return words[(len(adjective) * 7 + ord(adjective[0])) % len(words)]


def _pairs(things: Sequence[str]) -> Iterator[tuple[str, str]]:
    return ((a, b) for a, b in itertools.permutations(things, 2))


def intensifiers() -> Iterator[Case]:
    """An intensifier keeps the label and does not weaken it."""
    for (adjective, label, _), thing, word in itertools.product(_adjectives(), lx.THINGS, lx.INTENSIFIERS):
        plain = f"The {thing} was {adjective}."
        stronger = f"The {thing} was {word} {adjective}."
        yield Case("intensifiers", "DIR", (plain, stronger), label, UP if label == POSITIVE else DOWN)


def invariance_entities() -> Iterator[Case]:
    """Another person, place or airline does not change the label."""
    templates = (
        "{name} told me the {thing} in {place} was {adj}.",
        "{airline} the {thing} on my flight to {place} was {adj}.",
    )
    for (adjective, _, _), thing, template in itertools.product(_adjectives(), lx.THINGS, templates):
        for entities in zip(lx.NAMES, lx.PLACES, lx.AIRLINES, strict=False):
            words = dict(zip(("name", "place", "airline"), entities, strict=True), thing=thing, adj=adjective)
            texts = [_fill(template, **words)] + [_fill(template, **variant) for variant in _swapped(words)]
            yield Case("invariance_entities", "INV", tuple(dict.fromkeys(texts)))


def _swapped(words: dict[str, str]) -> Iterator[dict[str, str]]:
    """``words`` with its name, then its place, then its airline replaced by two others of the lexicon."""
    for key, lexicon in (("name", lx.NAMES), ("place", lx.PLACES), ("airline", lx.AIRLINES)):
        for other in _others(lexicon, words[key]):
            yield {**words, key: other}


def _others(words: Sequence[str], word: str, count: int = 2) -> list[str]:
    """The ``count`` words after ``word`` in ``words``, wrapping round."""
    start = words.index(word)
    return [words[(start + k) % len(words)] for k in range(1, count + 1)]


def invariance_typos_and_case(seed: int = 0) -> Iterator[Case]:
    """A typo, all lower case or all capitals does not change the label."""
    rng = random.Random(seed)
    for case in itertools.chain(vocabulary(), negation()):
        text = case.texts[0]
        yield Case("invariance_typos_and_case", "INV", (text, _typo(text, rng), text.lower(), text.upper()))


def _typo(text: str, rng: random.Random) -> str:
    """``text`` with two different neighbouring letters swapped in one word of four letters or more."""
    words = text.split(" ")
    spots = [
        (i, j)
        for i, word in enumerate(words)
        if sum(c.isalpha() for c in word) >= 4
        for j in range(len(word) - 1)
        if word[j].isalpha() and word[j + 1].isalpha() and word[j] != word[j + 1]
    ]
    if not spots:
        return text
    i, j = rng.choice(spots)
    word = words[i]
    words[i] = word[:j] + word[j + 1] + word[j] + word[j + 2 :]
    return " ".join(words)


def directional_phrases() -> Iterator[Case]:
    """Adding a clearly positive phrase does not lower P(positive); a clearly negative one does not raise it."""
    for template, thing, name, place in itertools.product(
        lx.NEUTRAL_STATEMENTS, lx.THINGS, lx.NAMES[:4], lx.PLACES[:3]
    ):
        text = template.format(thing=thing, name=name, place=place)
        for phrase in lx.POSITIVE_PHRASES:
            yield Case("directional_phrases", "DIR", (text, f"{text} {phrase}"), direction=UP)
        for phrase in lx.NEGATIVE_PHRASES:
            yield Case("directional_phrases", "DIR", (text, f"{text} {phrase}"), direction=DOWN)


def identity_invariance(group: str) -> Callable[[], Iterator[Case]]:
    """The cases of one identity group: each frame without an identity term and with one of the group's terms,
    a pair whose answers must agree (a pair that changes answer is a failed case)."""

    def cases() -> Iterator[Case]:
        for frame, term in itertools.product(lx.IDENTITY_FRAMES, lx.IDENTITY_TERMS[group]):
            plain = _with_articles(frame.replace("{term} ", ""))
            named = _with_articles(frame.replace("{term}", term))
            yield Case(f"identity_{group}", "INV", (plain, named))

    cases.__name__ = f"identity_{group}"
    return cases


def _with_articles(text: str) -> str:
    """``text`` with each "a" fitted to the word after it ("a Asian" -> "an Asian")."""
    return re.sub(r"\b([Aa]) (?=(\w))", lambda found: f"{lx.indefinite_article(found[2], found[1])} ", text)


GENERATORS: dict[str, Callable[[], Iterator[Case]]] = {
    "vocabulary": vocabulary,
    "negation": negation,
    "negated_negative": negated_negative,
    "contrast": contrast,
    "intensifiers": intensifiers,
    "invariance_entities": invariance_entities,
    "invariance_typos_and_case": invariance_typos_and_case,
    "directional_phrases": directional_phrases,
    **{f"identity_{group}": identity_invariance(group) for group in lx.IDENTITY_TERMS},
}
IDENTITY_PREFIX = "identity_"  # the capabilities of identity invariance, one per group
CAPABILITIES = tuple(GENERATORS)


def build_suite(per_capability: int, seed: int = 0) -> list[Case]:
    """At most ``per_capability`` cases of each capability, a seeded sample of all its template fillings."""
    rng = random.Random(seed)
    suite = []
    for generate in GENERATORS.values():
        cases = list(dict.fromkeys(generate()))
        suite += cases if len(cases) <= per_capability else rng.sample(cases, per_capability)
    return suite


def suite_texts(suite: Sequence[Case]) -> list[str]:
    """Every distinct text of ``suite``, in a fixed order: what a model has to answer once."""
    return list(dict.fromkeys(t for case in suite for t in case.texts))


@dataclass(frozen=True)
class CapabilityResult:
    capability: str
    kind: str
    cases: int
    passed: int
    failures: tuple[tuple[str, ...], ...]  # the texts of a few failed cases, for people to read

    @property
    def pass_rate(self) -> float:
        return self.passed / self.cases if self.cases else float("nan")


def run_suite(
    suite: Sequence[Case], positive_probabilities: Callable[[list[str]], np.ndarray]
) -> list[CapabilityResult]:
    """Each capability's pass rate for a model whose P(positive) of texts is ``positive_probabilities(texts)``.

    Every distinct text is answered once, in one call.
    """
    texts = suite_texts(suite)
    answers = dict(zip(texts, map(float, positive_probabilities(texts)), strict=True))
    results = []
    for capability in dict.fromkeys(c.capability for c in suite):
        cases = [c for c in suite if c.capability == capability]
        failed = [c for c in cases if not c.passes(answers.__getitem__)]
        shown = tuple(c.texts for c in failed[:5])
        results.append(CapabilityResult(capability, cases[0].kind, len(cases), len(cases) - len(failed), shown))
    return results


def results_table(results: dict[str, list[CapabilityResult]]) -> pd.DataFrame:
    """Pass rates per capability (rows) and model (columns, in the order given), with each case's kind."""
    rows: dict[str, dict[str, Any]] = {}
    for model, model_results in results.items():
        for r in model_results:
            rows.setdefault(r.capability, {"kind": r.kind, "cases": r.cases})[model] = r.pass_rate
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("capability")


def as_metrics(results: Sequence[CapabilityResult]) -> dict[str, float]:
    """``{"capability_<name>": pass rate}``, for MLflow."""
    return {f"capability_{r.capability}": r.pass_rate for r in results}
