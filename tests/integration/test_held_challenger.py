"""A challenger held in the shadow (better offline, too few live texts for the agreement floor) is promoted or
rejected on a real registry once the shadow log has enough texts, and the loop does it before its staleness step."""

from __future__ import annotations

import email
from datetime import UTC, datetime

import pytest
from mlflow import MlflowClient

from sentiment_lib.loop.cycle import Cycle
from sentiment_lib.serving.served_log import SHADOW_PREFIX, ServedLog
from sentiment_lib.settings import CHALLENGER, CHAMPION, GateThresholds
from sentiment_lib.tracking import registry, runs, shadow_gate
from tests.helpers import NAME

FLOOR = GateThresholds(min_live_agreement=0.9, min_live_texts=200)
OFFLINE = "challenger better by +0.0300 on the feedback holdout (margin 0.01), McNemar p = 0.001 < 0.05"


@pytest.fixture
def held(tmp_path):
    """A registry with version 1 @champion and version 2 @challenger, held by the gate against version 1 (versions
    without weights: judging a held challenger reads tags, aliases and the shadow log only)."""
    runs.configure_client(tmp_path)
    client = MlflowClient()
    client.create_registered_model(NAME)
    for _ in range(3):
        (tmp_path / "model").mkdir(exist_ok=True)
        client.create_model_version(NAME, source=str(tmp_path / "model"))
    client.set_registered_model_alias(NAME, CHAMPION, "1")
    client.set_registered_model_alias(NAME, CHALLENGER, "2")
    registry.tag_version(NAME, "2", {"gate.held": "true", "gate.promote": "false", "gate.champion_version": "1",
                                     "gate.offline_reason": OFFLINE, "gate.reason": f"{OFFLINE}: held"})  # fmt: skip
    return tmp_path


def shadow(workspace, texts: int, agreed: int, champion: str = "1", challenger: str = "2") -> None:
    """``texts`` shadow lines of the pair, the first ``agreed`` of them agreeing, as the API writes them."""
    now = datetime.now(UTC).isoformat()
    records = [
        {"time": now, "request_id": f"r{n}", "text": f"text {n}", "champion_version": champion,
         "champion_sentiment": "positive", "champion_confidence": 0.9, "challenger_version": challenger,
         "challenger_sentiment": "positive" if n < agreed else "negative", "challenger_confidence": 0.8}
        for n in range(texts)
    ]  # fmt: skip
    assert ServedLog(workspace / "logs" / "served" / "shadow", prefix=SHADOW_PREFIX).append(records).written == texts


def champion() -> str:
    return str(registry.version_for_alias(NAME, CHAMPION).version)


def judge(workspace, thresholds: GateThresholds = FLOOR):
    return shadow_gate.judge_held_challenger(NAME, workspace / "logs" / "served" / "shadow", thresholds)


def tags(version: str) -> dict[str, str]:
    return MlflowClient().get_model_version(NAME, version).tags


def test_a_held_challenger_waits_for_enough_live_texts_then_is_promoted_on_agreement(held):
    shadow(held, 150, 150)
    waiting = judge(held)
    assert waiting.outcome == shadow_gate.WAITING and champion() == "1"
    assert waiting.reason == "150 of 200 live texts shadow-scored beside version 1"
    shadow(held, 100, 90)  # 240 of 250 agree: 96%
    judged = judge(held)
    assert judged.promoted and judged.version == "2" and judged.champion_version == "1" and champion() == "2"
    assert judged.reason.startswith(OFFLINE + "; live agreement 96.0% (95% interval")
    assert "of 250 texts, at or above the floor 90.0%" in judged.reason
    found = tags("2")
    assert found["gate.held"] == "false" and found["gate.promote"] == "true" and found["gate.live_texts"] == "250"
    assert found["gate.live_agreement"] == "0.9600" and registry.gate_outcome(found) == "promoted"
    assert judged.gate["reason"] == judged.reason and "gate.reason" not in judged.gate
    assert tags("1")["challenged_by.2"] == judged.reason
    assert f"promoted ({judged.reason})" in MlflowClient().get_model_version(NAME, "2").description  # its card
    assert judge(held) is None  # judged once


def test_a_held_challenger_that_disagrees_on_live_traffic_is_rejected(held):
    shadow(held, 250, 200)  # 80%
    judged = judge(held)
    assert not judged.promoted and champion() == "1"
    assert judged.reason.startswith("challenger agrees with the champion on 80.0% (95% interval")
    assert judged.reason.endswith("below the floor 90.0% (gate_min_live_agreement)")
    assert registry.gate_outcome(tags("2")) == "rejected" and tags("2")["gate.held"] == "false"
    assert "rejected by the gate (challenger agrees" in MlflowClient().get_model_version(NAME, "2").description
    assert judge(held) is None


def test_a_challenger_held_against_a_champion_that_no_longer_serves_is_rejected_not_promoted(held):
    MlflowClient().set_registered_model_alias(NAME, CHAMPION, "3")  # an operator's rollback, say
    shadow(held, 300, 300, champion="1")
    judged = judge(held)
    assert not judged.promoted and champion() == "3"
    assert "held against champion version 1, which no longer serves: evaluate it again against version 3" in (
        judged.reason
    )
    assert "challenged_by.2" not in tags("3")  # it was never compared with version 3


def test_with_the_floor_off_since_a_held_challenger_is_promoted_on_its_offline_decision(held):
    judged = judge(held, GateThresholds(min_live_agreement=0.0))
    assert judged.promoted and champion() == "2"
    assert judged.reason == OFFLINE + "; the live-agreement floor is off now (gate_min_live_agreement 0)"


def test_a_held_version_replaced_or_promoted_by_hand_is_no_longer_held(held):
    MlflowClient().set_registered_model_alias(NAME, CHALLENGER, "3")  # a newer retrain
    assert judge(held) is None
    assert tags("2")["gate.held"] == "false" and "replaced as @challenger by version 3" in tags("2")["gate.reason"]
    registry.tag_version(NAME, "3", {"gate.held": "true", "gate.champion_version": "1"})
    registry.promote(NAME, "3", "an operator")
    assert judge(held) is None
    assert tags("3")["gate.held"] == "false" and "promoted by hand before it was judged" in tags("3")["gate.reason"]


def test_the_loop_promotes_a_held_challenger_before_its_staleness_step_and_alerts(held, monkeypatch):
    monkeypatch.delenv("ALERT_EMAIL_TO", raising=False)
    shadow(held, 250, 240)  # 96%
    overrides = {"gate_min_live_agreement": 0.9, "gate_min_live_texts": 200, "step_retries": 0}
    summary = Cycle(held, "smoke", overrides).run()
    assert champion() == "2"
    assert any(action.startswith("version 2, held in the shadow, promoted: " + OFFLINE) for action in summary.actions)
    # the staleness step came after and judged version 2 (here it fails: the versions have no weights)
    assert summary.champion == "2" and summary.failed_step == "04_staleness"
    sent = [email.message_from_bytes(p.read_bytes()) for p in sorted((held / "outbox").glob("*.eml"))]
    judged = [m for m in sent if m["Subject"].endswith("Held challenger version 2 promoted")]
    body = judged[0].get_payload(decode=True).decode()
    assert len(judged) == 1 and f"held in the shadow by the gate, was promoted: {OFFLINE}; live agreement 96.0%" in body
    assert "@champion is version 2." in body and "- live_texts: 250" in body
