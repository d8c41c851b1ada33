"""Identity augmentation: copies of real reviews with one identity term before a person, labels unchanged."""

from __future__ import annotations

import pandas as pd

from sentiment_lib.behaviour import lexicons as lx
from sentiment_lib.data import identity_augment as ia


def test_a_term_goes_before_the_first_person_with_the_article_agreeing():
    assert ia.name_identity("Our waiter was slow. The manager was kind.", "Jewish") == (
        "Our Jewish waiter was slow. The manager was kind."
    )
    assert ia.name_identity("I asked a clerk for help", "Asian") == "I asked an Asian clerk for help"
    assert ia.name_identity("An owner who cares", "gay") == "A gay owner who cares"
    assert ia.name_identity("Great soup, cold fries.", "Muslim") is None


def test_copies_keep_every_column_but_the_text_and_skip_rows_naming_nobody():
    frame = pd.DataFrame(
        {
            "Review": ["The driver was rude.", "Lovely soup.", "My wife loved the room."],
            "Sentiment": ["negative", "positive", "positive"],
            "domain": ["airline", "restaurants", "hotels"],
        }
    )
    copies = ia.identity_rows(frame, rows=10, seed=0).sort_values("domain", ignore_index=True)
    assert list(copies["Sentiment"]) == ["negative", "positive"] and list(copies["domain"]) == ["airline", "hotels"]
    for copy, original in zip(copies["Review"], ["The driver was rude.", "My wife loved the room."], strict=True):
        added = [w for w in copy.split() if w not in original.split()]
        assert len(added) == 1 and added[0] in ia.TRAINING_TERMS and copy.replace(f"{added[0]} ", "") == original


def test_training_terms_leave_some_suite_terms_out_so_the_suite_also_tests_unseen_ones():
    suite_terms = {t for terms in lx.IDENTITY_TERMS.values() for t in terms}
    assert suite_terms >= ia.HELD_OUT_OF_TRAINING and not ia.HELD_OUT_OF_TRAINING & set(ia.TRAINING_TERMS)
    assert set(ia.EXTRA_TERMS) - suite_terms == set(ia.EXTRA_TERMS)
