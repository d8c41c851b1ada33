from __future__ import annotations

import pandas as pd
import pytest

from sentiment_lib.data import mix
from sentiment_lib.errors import ConfigError, DataValidationError


def rows(domain: str, n: int) -> pd.DataFrame:
    return pd.DataFrame(
        {"Review": [f"{domain} review {i}" for i in range(n)], "Sentiment": ["positive", "negative"] * (n // 2)}
    ).assign(domain=domain)


FRAME = pd.concat([rows("movies", 600), rows("hotels", 200), rows("clothing", 200)], ignore_index=True)


def test_parse_mix_reads_weights_and_refuses_bad_entries():
    assert mix.parse_mix("sst2=1, reviews=2.5") == {"sst2": 1.0, "reviews": 2.5}
    assert mix.parse_mix("sst2:1,hotels:0") == {"sst2": 1.0, "hotels": 0.0}
    assert mix.parse_mix("") == {}
    for text, message in [("sst2", "bad entry"), ("sst2=x", "must be a number"), ("sst2=-1", ">= 0"), ("A B=1", "bad")]:
        with pytest.raises(ConfigError, match=message):
            mix.parse_mix(text)


def test_weights_follow_source_then_domain():
    weights = mix.group_weights(FRAME["domain"], {"sst2": 0.5, "reviews": 2, "hotels": 3})
    assert weights == {"clothing": 2, "hotels": 3, "movies": 0.5}


def test_a_weight_repeats_rows_and_a_cap_keeps_the_proportions():
    drawn = mix.mixed_sample(FRAME, {"reviews": 2}, limit=0, seed=1)
    counts = drawn["domain"].value_counts()
    assert counts.to_dict() == {"movies": 600, "hotels": 400, "clothing": 400}
    # every review row is there exactly twice: repeated, never sampled away
    assert drawn[drawn["domain"] == "hotels"]["Review"].value_counts().eq(2).all()
    capped = mix.mixed_sample(FRAME, {"reviews": 2}, limit=700, seed=1)["domain"].value_counts()
    assert capped.to_dict() == {"movies": 300, "hotels": 200, "clothing": 200}


def test_the_draw_is_seeded_and_shuffled():
    first = mix.mixed_sample(FRAME, {"sst2": 0.5}, limit=0, seed=3)
    assert first.equals(mix.mixed_sample(FRAME, {"sst2": 0.5}, limit=0, seed=3))
    assert not first.equals(mix.mixed_sample(FRAME, {"sst2": 0.5}, limit=0, seed=4))
    assert first["domain"].iloc[:50].nunique() > 1


def test_unknown_names_and_an_empty_mix_are_refused():
    with pytest.raises(DataValidationError, match=r"\['hotles'\].*domains: clothing, hotels, movies"):
        mix.mixed_sample(FRAME, {"hotles": 2}, limit=0, seed=1)
    with pytest.raises(DataValidationError, match="leaves no training row"):
        mix.mixed_sample(FRAME, {"sst2": 0, "reviews": 0}, limit=0, seed=1)


def test_rows_without_a_domain_are_one_group():
    plain = FRAME.drop(columns="domain")
    assert len(mix.mixed_sample(plain, {"sst2": 0}, limit=100, seed=1)) == 100
    table = mix.mix_table(FRAME, mix.mixed_sample(FRAME, {"sst2": 0}, limit=0, seed=1), {"sst2": 0})
    assert table.loc["movies", ["source", "weight", "rows in split", "rows drawn"]].tolist() == ["sst2", 0, 600, 0]
    assert table.loc["hotels", "rows drawn"] == 200


def test_balancing_caps_each_domains_majority_label_and_keeps_single_label_domains_whole():
    frame = pd.DataFrame(
        {
            "Review": [f"r{i}" for i in range(16)],
            "Sentiment": ["positive"] * 10 + ["negative"] * 2 + ["positive", "negative"] + ["negative"] * 2,
            "domain": ["clothing"] * 12 + ["hotels"] * 2 + ["feedback"] * 2,
        }
    )
    balanced = mix.balance_labels(frame, ratio=2, seed=0)
    counts = balanced.groupby(["domain", "Sentiment"]).size().to_dict()
    assert counts == {
        ("clothing", "negative"): 2,
        ("clothing", "positive"): 4,
        ("feedback", "negative"): 2,
        ("hotels", "negative"): 1,
        ("hotels", "positive"): 1,
    }
    assert list(balanced.index) == sorted(balanced.index)  # the split's order is kept
    assert mix.balance_labels(frame, ratio=0, seed=0) is frame
