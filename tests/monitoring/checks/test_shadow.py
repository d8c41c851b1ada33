"""Live agreement from the shadow log: per pair of versions with its Wilson interval, the surest disagreements,
only the window read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sentiment_lib.monitoring.checks import shadow
from sentiment_lib.monitoring.checks.verdicts import wilson_interval
from sentiment_lib.serving.served_log import SHADOW_PREFIX, ServedLog


def line(n: int, champion: str, challenger: str, sure: tuple[float, float] = (0.9, 0.9), versions=("1", "2"),
         at: datetime | None = None) -> dict:  # fmt: skip
    return {
        "time": (at or datetime.now(UTC)).isoformat(timespec="milliseconds"),
        "request_id": f"req-{n}",
        "text": f"text {n}",
        "champion_version": versions[0],
        "champion_sentiment": champion,
        "champion_confidence": sure[0],
        "challenger_version": versions[1],
        "challenger_sentiment": challenger,
        "challenger_confidence": sure[1],
    }


def test_agreement_per_pair_with_its_wilson_interval_and_the_surest_disagreements():
    records = [line(n, "positive", "positive") for n in range(8)]
    records += [line(8, "positive", "negative", (0.99, 0.6)), line(9, "negative", "positive", (0.8, 0.85))]
    records += [line(10, "negative", "negative", versions=("1", "3"))]
    found = shadow.summarise_records(records, limit=1)
    first, second = found.agreements
    assert (first.champion_version, first.challenger_version, first.texts, first.agreed) == ("1", "2", 10, 8)
    assert first.rate == 0.8 and first.interval == pytest.approx(wilson_interval(8, 10))
    assert (second.challenger_version, second.texts, second.agreed) == ("3", 1, 1)
    assert [r["text"] for r in found.disagreements] == ["text 9"]  # both at least 0.8 sure; text 8 only 0.6
    assert "80.0% (95% interval 49.0% to 94.3%) of 10 texts" in found.headline()
    tables = found.tables()
    assert list(tables["Live agreement of each challenger with the champion"]["agreement"]) == ["80.0%", "100.0%"]
    assert list(tables["The most confident disagreements"]["text"]) == ["text 9"]


def test_an_empty_log_says_so_and_has_no_tables(tmp_path):
    found = shadow.summarise(tmp_path / "no-such-folder")
    assert found.agreements == [] and found.tables() == {} and "No text was shadow-scored" in found.headline()


def test_the_log_is_read_over_the_window_and_between_two_versions(tmp_path):
    log = ServedLog(tmp_path, prefix=SHADOW_PREFIX)
    now = datetime.now(UTC)
    old = [line(n, "positive", "negative", at=now - timedelta(days=10)) for n in range(3)]
    recent = [line(n, "positive", "positive") for n in range(3, 6)] + [line(6, "positive", "negative")]
    other = [line(7, "positive", "negative", versions=("1", "3"))]
    log.append(old)
    log.append(recent + other)
    week = shadow.summarise(tmp_path, window_days=7)
    assert [(a.challenger_version, a.texts, a.agreed) for a in week.agreements] == [("2", 4, 3), ("3", 1, 0)]
    everything = shadow.agreement_between(tmp_path, "1", "2")
    assert (everything.texts, everything.agreed) == (7, 3)
    assert shadow.agreement_between(tmp_path, "2", "3").texts == 0
