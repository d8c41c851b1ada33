"""The behavioural suite: what it generates, and what it measures of a model whose behaviour is known."""

from __future__ import annotations

import re

import numpy as np
import pytest

from sentiment_lib.behaviour import lexicons as lx
from sentiment_lib.behaviour import suite as bs

POSITIVE_WORDS = set(lx.POSITIVE_ADJECTIVES) | {p for p, _ in lx.POSITIVE_VERBS} | {"loved", "best", "recommended"}
NEGATIVE_WORDS = set(lx.NEGATIVE_ADJECTIVES) | {p for p, _ in lx.NEGATIVE_VERBS} | {"hated", "worst", "waste"}


def bag_of_words(texts: list[str]) -> np.ndarray:
    """P(positive) of a model that counts sentiment words and reads nothing else: no negation, no "but"."""
    scores = []
    for text in texts:
        words = re.findall(r"[a-z]+", text.lower())
        score = sum(w in POSITIVE_WORDS for w in words) - sum(w in NEGATIVE_WORDS for w in words)
        scores.append(1 / (1 + np.exp(-2 * score)) if score else 0.5)
    return np.array(scores)


@pytest.fixture(scope="module")
def suite():
    return bs.build_suite(per_capability=400, seed=0)


def test_the_suite_is_a_few_thousand_seeded_cases_over_every_capability(suite):
    assert 3000 <= len(suite) <= len(bs.CAPABILITIES) * 400
    counts = {name: sum(c.capability == name for c in suite) for name in bs.CAPABILITIES}
    assert set(counts) == set(bs.CAPABILITIES) and all(100 <= n <= 400 for n in counts.values()), counts
    assert bs.build_suite(400, seed=0) == suite and bs.build_suite(400, seed=1) != suite


def test_each_capability_expects_what_its_structure_says(suite):
    by = {name: [c for c in suite if c.capability == name] for name in bs.CAPABILITIES}
    assert all(c.label == "negative" and re.search(r"\bnot\b|n't", c.texts[0]) for c in by["negation"])
    texts = " ".join(c.texts[0] for c in by["vocabulary"])
    assert "an excellent" in texts and not re.search(r"\ba [aeiou]|\ban [^aeiou ]", texts)
    assert all(c.label == "positive" and re.search(r"\bnot\b|n't|never", c.texts[0]) for c in by["negated_negative"])
    for case in by["contrast"]:
        after_but = case.texts[0].split(", but ")[1]
        negative_after = any(w in after_but for w in lx.NEGATIVE_ADJECTIVES) or "ruined" in after_but
        assert case.label == ("negative" if negative_after else "positive"), case
    for case in by["invariance_entities"]:
        assert len(case.texts) >= 5 and len(set(case.texts)) == len(case.texts)
    for case in by["invariance_typos_and_case"]:
        text, typo, lower, upper = case.texts
        assert typo != text and sorted(typo) == sorted(text) and lower == text.lower() and upper == text.upper()
    assert {c.direction for c in by["directional_phrases"]} == {bs.UP, bs.DOWN}


def test_a_bag_of_words_model_passes_vocabulary_and_fails_negation(suite):
    calls = []

    def model(texts):
        calls.append(len(texts))
        return bag_of_words(texts)

    results = {r.capability: r for r in bs.run_suite(suite, model)}
    assert calls == [len(bs.suite_texts(suite))]  # every distinct text answered once, in one call
    assert results["vocabulary"].pass_rate == 1.0
    assert results["negation"].pass_rate == 0.0 and results["negated_negative"].pass_rate == 0.0
    assert results["invariance_entities"].pass_rate == 1.0
    assert results["directional_phrases"].pass_rate == 1.0
    assert results["intensifiers"].pass_rate == 1.0
    # typos in the sentiment word blind it; casing never does
    assert 0.1 < results["invariance_typos_and_case"].pass_rate < 0.9
    failed = results["negation"].failures
    assert len(failed) == 5 and all(re.search(r"\bnot\b|n't", texts[0]) for texts in failed)


def test_results_table_and_metrics(suite):
    ours = bs.run_suite(suite, bag_of_words)
    flipped = bs.run_suite(suite, lambda texts: 1 - bag_of_words(texts))
    table = bs.results_table({"v2 (challenger)": ours, "v1 (champion)": flipped})
    assert list(table.columns) == ["kind", "cases", "v2 (challenger)", "v1 (champion)"]
    assert table.loc["vocabulary", "v2 (challenger)"] == 1.0 and table.loc["vocabulary", "v1 (champion)"] == 0.0
    assert bs.as_metrics(ours)["capability_negation"] == 0.0


def test_a_directional_case_tolerates_a_small_move_the_wrong_way():
    case = bs.Case("d", "DIR", ("a", "b"), direction=bs.UP)
    assert case.passes({"a": 0.60, "b": 0.56}.__getitem__)
    assert not case.passes({"a": 0.60, "b": 0.50}.__getitem__)
    labelled = bs.Case("d", "DIR", ("a", "b"), label="positive", direction=bs.UP)
    assert not labelled.passes({"a": 0.30, "b": 0.45}.__getitem__)  # moved up, but still negative


def test_identity_cases_pair_a_review_with_and_without_one_term_of_their_group(suite):
    for group, terms in lx.IDENTITY_TERMS.items():
        cases = [c for c in suite if c.capability == f"identity_{group}"]
        assert len(cases) == len(lx.IDENTITY_FRAMES) * len(terms)
        for case in cases:
            plain, named = case.texts
            added = set(named.split()) - set(plain.split())
            assert case.kind == "INV" and len(added) in (1, 2) and added & set(terms), case.texts
    pairs = {c.texts for c in suite}
    assert ("Sam is a teacher.", "Sam is an atheist teacher.") in pairs
    assert ("The hotel is run by a family.", "The hotel is run by an Arab family.") in pairs


def test_identity_invariance_fails_exactly_the_pairs_a_biased_model_flips():
    def biased(texts: list[str]) -> np.ndarray:  # reads "gay" as a reason to dislike, otherwise neutral-positive
        return np.array([0.2 if "gay" in t.split() else 0.7 for t in texts])

    cases = [c for c in bs.build_suite(400) if c.capability.startswith(bs.IDENTITY_PREFIX)]
    rates = {r.capability: r.pass_rate for r in bs.run_suite(cases, biased)}
    assert rates["identity_sexual_orientation"] == pytest.approx(1 - 1 / len(lx.IDENTITY_TERMS["sexual_orientation"]))
    assert rates["identity_race"] == rates["identity_religion"] == rates["identity_nationality"] == 1.0


@pytest.mark.parametrize(
    ("word", "written", "article"),
    [("awful", "a", "an"), ("great", "a", "a"), ("Asian", "A", "An"), ("Black", "A", "A"), ("", "a", "a")],
)
def test_the_article_fits_the_word_after_it_in_the_case_it_was_written(word, written, article):
    assert lx.indefinite_article(word, written) == article
