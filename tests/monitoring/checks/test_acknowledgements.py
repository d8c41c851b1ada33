"""When an acknowledged shift stops covering the drift, and the drift state's file."""

from __future__ import annotations

import pytest

from sentiment_lib.errors import DataValidationError
from sentiment_lib.monitoring.checks.acknowledgements import Acknowledgement, DriftState, Reference
from sentiment_lib.workspace import Workspace

ACK = Acknowledgement(
    "3", 0.95, ["@united", "flight", "@usairways", "thanks", "@americanair"], "tweets now", "t", "ops", "c1"
)


def test_an_acknowledgement_covers_the_same_shift_of_the_same_champion_only():
    same = ["flight", "@united", "@usairways", "hold", "cancelled"]
    assert ACK.covers("3", 0.96, same)  # within the margin, 3 of 5 n-grams still on top
    assert not ACK.covers("3", 0.975, same)  # grew past the margin
    assert not ACK.covers("4", 0.90, same)  # another champion
    assert not ACK.covers("3", 0.90, ["@southwestair", "bags", "flight", "lost", "gate"])  # another shift
    assert ACK.covers("3", 0.90, [])  # no explanation to compare: the AUC decides


def test_the_drift_state_round_trips_and_a_damaged_file_is_named(tmp_path):
    ws = Workspace(tmp_path)
    assert DriftState.load(ws) == DriftState()
    state = DriftState(ACK, Reference("3", "data/reference/served-v3.csv", 300, "t"), [{"action": "ack"}])
    state.save(ws)
    assert DriftState.load(ws) == state
    ws.drift_state.write_text('{"acknowledged": {"model_version": "3"}}')
    with pytest.raises(DataValidationError, match=r"drift\.json is damaged"):
        DriftState.load(ws)
