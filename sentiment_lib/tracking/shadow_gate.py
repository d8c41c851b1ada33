"""The gate's last word on a challenger it **held**: better offline, but with too few live texts for the
live-agreement floor (``gate_min_live_agreement``; see :mod:`sentiment_lib.tracking.gate`).

A held version stays ``@challenger``, so the API shadow-scores it beside the champion it was judged against. Each
loop cycle asks :func:`judge_held_challenger`: once the shadow log has ``gate_min_live_texts`` texts of that pair,
the challenger is promoted (agreement at or above the floor) or rejected, its tags and model card say why, and the
loop alerts. Until then the cycle only says how many texts it has. A hold that can no longer be judged as it was
meant is settled too: a challenger held against a champion that no longer serves is rejected (``runner.py
evaluate`` judges it again), and with the floor turned off since, it is promoted on its offline decision. A held
version that stopped being ``@challenger`` (a newer retrain replaced it) or was promoted by hand is marked no
longer held, so that no version stays "held" for ever.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sentiment_lib.monitoring.checks.shadow import agreement_between
from sentiment_lib.settings import CHALLENGER, CHAMPION, GateThresholds
from sentiment_lib.tracking import gate, model_card, registry

log = logging.getLogger(__name__)

HELD_TAG = "gate.held"
PROMOTED, REJECTED, WAITING = "promoted", "rejected", "waiting"


@dataclass(frozen=True)
class HeldJudgement:
    """What :func:`judge_held_challenger` found about the held ``@challenger``."""

    version: str
    champion_version: str  # the version serving when it was judged
    outcome: str  # PROMOTED, REJECTED, or WAITING for live texts
    reason: str
    gate: dict[str, str] = field(default_factory=dict)  # its gate tags after the judgement, without "gate."

    @property
    def promoted(self) -> bool:
        return self.outcome == PROMOTED


def judge_held_challenger(registered_name: str, shadow_log: Path, thresholds: GateThresholds) -> HeldJudgement | None:
    """Promote, reject or keep waiting on the held ``@challenger``; None when there is none (see the module
    docstring). Raises what the registry raises when it cannot be read."""
    challenger = registry.version_for_alias(registered_name, CHALLENGER)
    champion = registry.version_for_alias(registered_name, CHAMPION)
    released = release_stale_holds(registered_name, challenger, champion)
    if challenger is None or champion is None or challenger.tags.get(HELD_TAG) != "true":
        return None
    if str(challenger.version) in released:  # promoted by hand: nothing left to judge
        return None
    version, serving = str(challenger.version), str(champion.version)
    judged_against = challenger.tags.get("gate.champion_version", "")
    offline = challenger.tags.get("gate.offline_reason", "better offline")
    if judged_against != serving:
        reason = (f"held against champion version {judged_against}, which no longer serves: evaluate it again "
                  f"against version {serving} (runner.py evaluate)")  # fmt: skip
        return _settle(registered_name, version, serving, {}, False, reason)
    if thresholds.min_live_agreement <= 0:
        reason = f"{offline}; the live-agreement floor is off now (gate_min_live_agreement 0)"
        return _settle(registered_name, version, serving, {}, True, reason, compared=True)
    live = agreement_between(shadow_log, serving, version)
    if gate.live_unjudged(live, thresholds):
        reason = f"{live.texts} of {thresholds.min_live_texts} live texts shadow-scored beside version {serving}"
        return HeldJudgement(version, serving, WAITING, reason)
    blocks, note = gate.live_judgement(live, thresholds)
    live_tags = {"gate.live_texts": str(live.texts), "gate.live_agreement": f"{live.rate:.4f}"}
    return _settle(registered_name, version, serving, live_tags, not blocks, note if blocks else offline + note,
                   compared=True)  # fmt: skip


def release_stale_holds(registered_name: str, challenger: Any | None, champion: Any | None) -> list[str]:
    """Mark as no longer held every held version that is not ``@challenger`` any more, or is ``@champion`` (promoted
    by hand); return their numbers."""
    current = str(challenger.version) if challenger is not None else ""
    serving = str(champion.version) if champion is not None else ""
    released = []
    for version in registry.versions_tagged(registered_name, HELD_TAG, "true"):
        if version == current and version != serving:
            continue
        why = "promoted by hand" if version == serving else f"replaced as @{CHALLENGER} by version {current or 'none'}"
        registry.tag_version(registered_name, version, {HELD_TAG: "false", "gate.reason": f"held in the shadow, then "
                                                        f"{why} before it was judged"})  # fmt: skip
        log.info("Version %s is no longer held in the shadow: %s", version, why)
        released.append(version)
    return released


def _settle(registered_name: str, version: str, serving: str, live_tags: dict[str, str], promote: bool, reason: str,
            compared: bool = False) -> HeldJudgement:  # fmt: skip
    """Record the judgement (``compared``: against ``serving``, which gets a ``challenged_by`` note) and publish
    the version's model card again."""
    tags = {**live_tags, HELD_TAG: "false", "gate.promote": str(promote).lower(), "gate.reason": reason}
    gate.record_decision(registered_name, version, tags, serving if compared else "", "gate, after the shadow")
    model_card.publish(registered_name, version)
    found = registry.gate_tags(registry.version_tags(registered_name, version))
    return HeldJudgement(version, serving, PROMOTED if promote else REJECTED, reason, found)
