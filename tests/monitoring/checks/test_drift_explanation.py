"""The drift explanation on real data: airline tweets against SST-2 training sentences, and SST-2 against itself."""

from __future__ import annotations

import email
import json
from email import policy

import pandas as pd
import pytest

from sentiment_lib.loop.cycle import Cycle, CycleSummary, LoopState
from sentiment_lib.monitoring.checks import drift, drift_explanation, staleness
from sentiment_lib.monitoring.checks.drift_explanation import label_share_shift
from sentiment_lib.monitoring.checks.language import looks_english
from sentiment_lib.monitoring.drift_rendering import explanation_lines, explanation_tables
from tests.helpers import AIRLINE, sst2


@pytest.fixture(scope="module")
def training():
    return sst2("train")["Review"].sample(600, random_state=0).tolist()


@pytest.fixture(scope="module")
def tweets():
    return pd.read_csv(AIRLINE)["text"].sample(300, random_state=0).tolist()


@pytest.fixture(scope="module")
def airline(training, tweets):
    """300 airline tweets as recent texts against 300 SST-2 training sentences, with made-up predictions."""
    predicted = (["positive", "negative"] * 150, ["negative"] * 240 + ["positive"] * 60)
    return drift.explain_drift(training[:300], tweets, predicted)


def names(ngrams) -> list[str]:
    return [n.ngram for n in ngrams]


def test_top_ngrams_name_the_airlines_and_flights(airline):
    recent = names(airline.typical_of_recent)
    assert len(recent) == drift_explanation.TOP_RECENT
    assert any(n.startswith("@") and n[1:].isalpha() for n in recent[:5]), recent  # whole @mentions, near the top
    assert "flight" in recent
    weights = [n.weight for n in airline.typical_of_recent]
    assert weights == sorted(weights, reverse=True) and weights[-1] > 0
    for ngram in airline.typical_of_recent:
        if ngram.ngram.startswith("@"):  # an airline's handle is in tweets, never in movie reviews
            assert ngram.recent_share > 0.05 and ngram.reference_share == 0
    assert airline.typical_of_reference and all(n.weight < 0 for n in airline.typical_of_reference)
    assert not any(n.startswith("@") for n in names(airline.typical_of_reference))


def test_descriptors_see_mentions_and_longer_texts(airline):
    shifts = {d.name: d for d in airline.descriptors}
    assert list(shifts) == list(drift_explanation.DESCRIPTORS)
    assert shifts["mention_share"].recent > 0.95 and shifts["mention_share"].reference < 0.05
    assert shifts["mention_share"].difference == shifts["mention_share"].recent - shifts["mention_share"].reference
    assert shifts["hashtag_share"].recent > 0.05 and shifts["hashtag_share"].reference == 0
    assert shifts["url_share"].recent > 0.02 and shifts["url_share"].reference == 0
    assert shifts["mean_words"].recent > shifts["mean_words"].reference + 3
    assert shifts["non_english_share"].recent < 0.05 and shifts["non_english_share"].reference < 0.05


def test_held_out_sst2_shows_no_difference_in_kind(training):
    same = drift.explain_drift(training[:300], training[300:])
    assert same.label_shift is None  # no predictions given
    assert not any(n.startswith(("@", "#")) for n in names(same.typical_of_recent))
    shifts = {d.name: d for d in same.descriptors}
    assert shifts["mention_share"].recent == shifts["mention_share"].reference == 0
    assert abs(shifts["mean_words"].difference) < 2


def test_descriptors_of_a_few_obvious_texts():
    described = drift_explanation.describe(
        [
            "@united lost my bag again #fail 😡",
            "see https://example.org/status for news",
            "write to help@example.org, we are #1 &#39;here&#39;",  # an address, a rank, an HTML entity
            "a fine film",
        ]
    )
    assert described["mean_words"] == (7 + 4 + 7 + 3) / 4
    assert described["mention_share"] == 0.25 and described["hashtag_share"] == 0.25
    assert described["url_share"] == 0.25 and described["emoji_share"] == 0.25
    assert described["non_english_share"] == 0


@pytest.mark.parametrize(
    ("text", "english"),
    [
        ("the film is a charming and often affecting journey .", True),
        ("@united I have been on hold for two hours, this is ridiculous http://t.co/x", True),
        ("great flight!", True),  # too short to judge: taken as English
        ("Je ne comprends pas pourquoi le vol a été annulé sans explication", False),
        ("El vuelo fue cancelado y nadie nos dio una explicación", False),
        ("Der Flug war leider sehr verspätet und das Essen war kalt", False),
        ("Фильм был ужасный", False),
        ("この映画は素晴らしかった", False),
    ],
)
def test_looks_english(text, english):
    assert looks_english(text) is english


def test_label_share_shift_and_its_p_value():
    moved = label_share_shift(["positive"] * 50 + ["negative"] * 50, ["positive"] * 20 + ["negative"] * 80)
    assert (moved.reference_positive_share, moved.recent_positive_share) == (0.5, 0.2)
    assert moved.difference == pytest.approx(-0.3) and moved.p_value < 1e-4
    steady = label_share_shift(["positive"] * 50 + ["negative"] * 50, ["positive"] * 52 + ["negative"] * 48)
    assert steady.p_value > 0.5
    nothing = label_share_shift([], ["positive"])
    assert drift_explanation.DriftExplanation(0, 1, [], [], [], nothing).to_dict()["label_shift"]["p_value"] is None


def test_to_dict_is_json_and_the_email_lines_read_it(airline):
    as_dict = json.loads(json.dumps(airline.to_dict(), allow_nan=False))
    assert as_dict["recent_texts"] == as_dict["reference_texts"] == 300
    assert as_dict["typical_of_recent"][0]["ngram"] == airline.typical_of_recent[0].ngram
    assert as_dict["label_shift"]["recent_share"] == 0.2 and as_dict["label_shift"]["reference_share"] == 0.5
    lines = explanation_lines(as_dict)
    assert lines == explanation_lines(airline) and explanation_lines(None) == []
    assert lines[0] == "What the drift check sees (300 recent vs 300 training texts):"
    assert any(line.startswith("- 'flight': +") for line in lines)
    assert any(
        line.startswith("Predicted positive: 20.0% of recent vs 50.0% of training texts (-30.0 points, p = ")
        for line in lines
    )
    mention = next(line for line in lines if "@mention" in line)
    assert mention.startswith("- share of texts with an @mention: 0.0% -> 9") and "points)" in mention


def test_tables_for_the_notebook(airline):
    tables = explanation_tables(airline)
    recent, training, labels, descriptors = tables.values()
    assert list(recent.index) == names(airline.typical_of_recent) and (recent["weight"] > 0).all()
    assert list(training.columns) == ["weight", "recent", "training"] and (training["weight"] < 0).all()
    assert labels.loc["positive"].to_dict() == {"training": 0.5, "recent": 0.2, "difference": -0.3}
    assert descriptors.loc["share of texts with an @mention", "recent"] > 0.95
    assert explanation_tables(None) == {}


def test_verdict_json_carries_the_explanation_or_none(airline, tmp_path):
    verdict = staleness.decide([staleness.Check("drift", 0.99, 0.6, True, "domain classifier AUC 0.990")])
    explained = staleness.Assessment(verdict, "3", 0.9, 0, 300, {}, airline)
    written = json.loads(staleness.write_verdict(explained, tmp_path / "a" / "verdict.json").read_text())
    assert written["drift_explanation"] == json.loads(json.dumps(airline.to_dict()))
    assert written["status"] == "stale" and written["checks"][0]["name"] == "drift"
    untested = staleness.Assessment(staleness.decide([]), "3", 0.9, 0, 0, {})
    assert json.loads(staleness.write_verdict(untested, tmp_path / "b" / "verdict.json").read_text()) == {
        "status": "healthy",
        "model_version": "3",
        "reasons": [],
        "checks": [],
        "drift_explanation": None,
        "drift_reference": "the training data",
        "acknowledged": None,
    }


def test_the_alert_email_says_what_changed(airline, tmp_path, monkeypatch):
    monkeypatch.delenv("ALERT_EMAIL_TO", raising=False)  # no SMTP: the alert lands in the outbox
    cycle = Cycle(tmp_path, "smoke", {})
    reasons = ["domain classifier AUC 0.997"]
    verdict = {
        "status": "stale",
        "model_version": "3",
        "reasons": reasons,
        "checks": [{"name": "drift", "value": 0.997, "threshold": 0.6, "fired": True, "detail": reasons[0]}],
        "drift_explanation": airline.to_dict(),
    }
    summary = CycleSummary("c1", "2026-11-30T08:00:00+00:00", champion="3", status="stale", reasons=reasons)
    cycle._alert_on_verdict(summary, verdict, LoopState())
    [sent] = (tmp_path / "outbox").glob("*.eml")
    body = email.message_from_bytes(sent.read_bytes(), policy=policy.default).get_body().get_content()
    assert "\n\n" + "\n".join(explanation_lines(airline)) + "\n\nReport: " in body
    assert "- drift: domain classifier AUC 0.997\n\nWhat the drift check sees" in body
