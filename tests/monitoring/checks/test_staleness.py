from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from sentiment_lib.monitoring.checks import drift, staleness
from tests.helpers import AIRLINE, sst2


def test_wilson_interval_known_values():
    low, high = staleness.wilson_interval(8, 10)
    assert (round(low, 3), round(high, 3)) == (0.490, 0.943)
    assert staleness.wilson_interval(0, 0) == (0.0, 1.0)


def test_performance_needs_evidence_before_it_fires():
    baseline, tolerance = 0.88, 0.03
    rng = np.random.default_rng(0)
    small_bad_window = rng.random(12) < 0.6  # 60% on 12 rows: bad, but too little to be sure
    assert not staleness.performance_check(small_bad_window, baseline, tolerance, min_rows=50).fired
    slightly_low = np.array([True] * 66 + [False] * 14)  # 82.5% on 80 rows: the interval still reaches 0.85
    assert not staleness.performance_check(slightly_low, baseline, tolerance, min_rows=50).fired
    large_bad_window = rng.random(600) < 0.7
    check = staleness.performance_check(large_bad_window, baseline, tolerance, min_rows=50)
    assert check.fired and "on 600 recent labelled reviews" in check.detail
    assert not staleness.performance_check(rng.random(600) < 0.87, baseline, tolerance, min_rows=50).fired


def test_age():
    now = datetime(2026, 11, 29, tzinfo=UTC)
    assert staleness.age_check(now - timedelta(days=31), now, timedelta(days=30)).fired
    assert not staleness.age_check(now - timedelta(days=3), now, timedelta(days=30)).fired
    ahead = staleness.age_check(now + timedelta(days=12), now, timedelta(days=30))  # a replay's clock ran ahead
    assert not ahead.fired and ahead.value == 0 and "later than now: a simulated clock ran ahead" in ahead.detail


@pytest.fixture(scope="module")
def sst2_sentences():
    return sst2("test")["Review"].sample(frac=1, random_state=0).tolist()


def test_drift_detected_on_airline_tweets_not_on_held_out_sst2(sst2_sentences):
    reference, held_out = sst2_sentences[:300], sst2_sentences[300:600]
    tweets = pd.read_csv(AIRLINE)["text"].sample(300, random_state=0).tolist()
    airline = drift.drift_check(reference, tweets, permutations=19)
    assert airline.fired and airline.value > 0.9
    same = drift.drift_check(reference, held_out, permutations=19)
    assert not same.fired and 0.35 < same.value < 0.65


def test_estimated_accuracy_and_verdict():
    low = staleness.estimated_accuracy_check(np.full(100, 0.7), baseline=0.88, tolerance=0.05)
    ok = staleness.estimated_accuracy_check(np.full(100, 0.9), baseline=0.88, tolerance=0.05)
    assert low.fired and not ok.fired
    # a handful of predictions says nothing: not judged below min_rows
    few = staleness.estimated_accuracy_check(np.full(5, 0.6), baseline=0.88, tolerance=0.05, min_rows=100)
    assert not few.fired and "not judged below 100 predictions" in few.detail
    assert staleness.decide([ok]).status == "healthy"
    assert staleness.decide([ok, low]).status == "stale"
    degraded = staleness.Check("performance", 0.7, 0.85, True, "accuracy 0.700")
    verdict = staleness.decide([degraded, low])
    assert verdict.status == "degraded" and verdict.reasons == ["accuracy 0.700", low.detail]
