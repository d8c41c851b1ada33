"""The promotion gate: a challenger replaces the champion only when it is really better.

Both models answer the same gate set: the base test split plus the held-out feedback. Promotion needs the
challenger's accuracy to beat the champion's by ``margin`` with a one-sided exact McNemar test below
``alpha`` (only the texts where the two disagree carry evidence), or the champion to be below an absolute
``floor`` that the challenger clears. Those are judged on the held-out feedback when it has enough rows
(retraining exists to fix what recent feedback showed; thousands of base rows would drown it), else on
the whole set. Either way, a challenger that lost more than ``max_regression`` on the base test split is
rejected: winning on feedback by forgetting the base domain (or by learning poisoned labels) is no gain. So is
one whose pass rate on any capability of the behavioural suite (:mod:`sentiment_lib.behaviour`) fell by more
than ``max_capability_drop``: overall accuracy can rise while, say, negation breaks. The identity invariance
groups (answers unchanged when a person's race, religion, nationality or sexual orientation is named) have a
tighter allowance, ``max_identity_drop``: a fairer model may not be traded for accuracy. With a live-agreement
floor (``min_live_agreement`` above 0), a challenger that agreed with the champion on fewer live texts than that
(its shadow log, :mod:`sentiment_lib.serving.shadow`) is not promoted either: that much change on real traffic
needs a person's look. A challenger that passes everything else before it has served ``min_live_texts`` texts in
the shadow is **held**: it stays ``@challenger`` (the API shadow-scores it), and
:mod:`sentiment_lib.tracking.shadow_gate`, which each loop cycle runs, promotes or rejects it once the shadow log
has that many texts of the pair.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import binomtest

from sentiment_lib.behaviour.suite import IDENTITY_PREFIX
from sentiment_lib.data.schema import LABEL_COLUMN, TEXT_COLUMN
from sentiment_lib.errors import ModelError
from sentiment_lib.formatting import percent
from sentiment_lib.monitoring.checks.shadow import Agreement, agreement_between
from sentiment_lib.settings import CHALLENGER, CHAMPION, GateThresholds
from sentiment_lib.tracking import registry

POLICIES = ("gate", "always", "never")
DEFAULT_THRESHOLDS = GateThresholds()  # the settings' defaults (frozen: safe to share)


@dataclass(frozen=True)
class GateDecision:
    promote: bool
    reason: str
    champion_accuracy: float
    challenger_accuracy: float
    p_value: float
    n: int
    base_regression: float = 0.0  # champion minus challenger accuracy on the base test rows
    judged_on: str = "gate set"
    capability_drops: dict[str, float] = field(default_factory=dict)  # champion minus challenger pass rate
    live_agreement: float | None = None  # with the champion on shadow-scored live texts (None: not read)
    live_texts: int = 0
    held: bool = False  # passed offline, waits in the shadow for enough live texts (see judge_held_challenger)
    offline_reason: str = ""  # while held: why it passed offline, the reason a later promotion gives

    def tags(self) -> dict[str, str]:
        """The decision as model-version tags."""
        drops = {f"gate.capability_drop.{name}": f"{drop:.4f}" for name, drop in self.capability_drops.items()}
        live = {"gate.live_texts": str(self.live_texts)}
        if self.live_agreement is not None:
            live["gate.live_agreement"] = f"{self.live_agreement:.4f}"
        return {
            **drops,
            **live,
            "gate.promote": str(self.promote).lower(),
            "gate.held": str(self.held).lower(),
            **({"gate.offline_reason": self.offline_reason} if self.held else {}),
            "gate.reason": self.reason,
            "gate.champion_accuracy": f"{self.champion_accuracy:.4f}",
            "gate.challenger_accuracy": f"{self.challenger_accuracy:.4f}",
            "gate.p_value": f"{self.p_value:.4g}",
            "gate.n": str(self.n),
            "gate.base_regression": f"{self.base_regression:.4f}",
            "gate.judged_on": self.judged_on,
        }


def mcnemar_p_value(champion_correct: np.ndarray, challenger_correct: np.ndarray) -> float:
    """One-sided exact McNemar p-value for "the challenger is right more often than the champion"."""
    challenger_only = int(np.sum(challenger_correct & ~champion_correct))
    champion_only = int(np.sum(champion_correct & ~challenger_correct))
    discordant = challenger_only + champion_only
    if discordant == 0:
        return 1.0
    return float(binomtest(challenger_only, discordant, 0.5, alternative="greater").pvalue)


def decide_promotion(
    champion_correct: np.ndarray,
    challenger_correct: np.ndarray,
    thresholds: GateThresholds = DEFAULT_THRESHOLDS,
    base_rows: np.ndarray | None = None,
    capability_drops: Mapping[str, float] | None = None,
    live: Agreement | None = None,
) -> GateDecision:
    """Compare two models' per-text correctness on the same gate set (boolean arrays, same order).

    ``base_rows`` marks the rows of the base test split (default: every row); the others are held-out
    feedback, on which the improvement is judged when there are at least ``thresholds.min_feedback_rows`` (> 0).
    ``capability_drops`` are the champion's minus the challenger's pass rates per behavioural capability.
    ``live`` is the challenger's agreement with the champion on shadow-scored live texts, judged against
    ``thresholds.min_live_agreement`` (when above 0) from ``thresholds.min_live_texts`` texts on.

    Raises:
        ValueError: the arrays differ in shape or are empty.
    """
    champion_correct = np.asarray(champion_correct, dtype=bool)
    challenger_correct = np.asarray(challenger_correct, dtype=bool)
    if champion_correct.shape != challenger_correct.shape or champion_correct.size == 0:
        raise ValueError("the gate needs both models' answers on the same, non-empty gate set")
    base = np.ones_like(champion_correct) if base_rows is None else np.asarray(base_rows, dtype=bool)
    t = thresholds
    on_feedback = 0 < t.min_feedback_rows <= int((~base).sum())
    judged = ~base if on_feedback else np.ones_like(base)
    old, new = float(champion_correct[judged].mean()), float(challenger_correct[judged].mean())
    regression = float(champion_correct[base].mean() - challenger_correct[base].mean()) if base.any() else 0.0
    p = mcnemar_p_value(champion_correct[judged], challenger_correct[judged])
    drops = dict(capability_drops or {})
    judged_on = "feedback holdout" if on_feedback else "gate set"
    # every decision carries the same numbers; only the verdict and its reason differ
    decision = partial(
        GateDecision,
        champion_accuracy=old,
        challenger_accuracy=new,
        p_value=p,
        n=int(judged.sum()),
        base_regression=regression,
        judged_on=judged_on,
        capability_drops=drops,
        live_agreement=live.rate if live else None,
        live_texts=live.texts if live else 0,
    )
    if regression > t.max_regression:
        reason = f"challenger {regression:.4f} less accurate on the base test split (allowed {t.max_regression})"
        return decision(False, reason)
    allowed = {name: _allowed_drop(name, t) for name in capability_drops or {}}
    broken = {name: drop for name, drop in drops.items() if drop > allowed[name]}
    if broken:
        worst = ", ".join(
            f"{name} -{100 * drop:.1f} points (allowed {100 * allowed[name]:g})"
            for name, drop in sorted(broken.items())
        )
        reason = f"challenger fails more behavioural tests: {worst}"
        return decision(False, reason)
    live_blocks, live_note = live_judgement(live, t)
    if live_blocks:
        return decision(False, live_note)
    where = f"on the {judged_on}"
    if new - old >= t.margin and p < t.alpha:
        reason = f"challenger better by {new - old:+.4f} {where} (margin {t.margin}), McNemar p = {p:.3g} < {t.alpha}"
    elif old < t.floor <= new:
        reason = f"champion {old:.4f} below the floor {t.floor} {where}, challenger {new:.4f} above it"
    else:
        reason = (
            f"challenger {new:.4f} vs champion {old:.4f} {where}: not better by {t.margin} with p < {t.alpha} "
            f"(p = {p:.3g})"
        )
        return decision(False, reason + live_note)
    if live_unjudged(live, t):  # better offline; live traffic has the last word
        return decision(False, f"{reason}{live_note}: held in the shadow until then", held=True, offline_reason=reason)
    return decision(True, reason + live_note)


def live_unjudged(live: Agreement | None, thresholds: GateThresholds) -> bool:
    """The floor is on and there are too few live texts to judge it (``min_live_texts`` is at least 1)."""
    return thresholds.min_live_agreement > 0 and (live.texts if live else 0) < thresholds.min_live_texts


def live_judgement(live: Agreement | None, thresholds: GateThresholds) -> tuple[bool, str]:
    """Whether the live-agreement floor blocks the promotion, and what the reason says of it ("" with the floor
    off; a note, to append, when it passes or is not judged; the whole reason when it blocks)."""
    floor, needed = thresholds.min_live_agreement, thresholds.min_live_texts
    if floor <= 0:
        return False, ""
    if live is None or live.rate is None or live_unjudged(live, thresholds):
        texts = live.texts if live else 0
        return False, f"; live agreement not judged: {texts} shadow-scored texts, fewer than {needed}"
    if live.rate < floor:
        reason = f"challenger agrees with the champion on {live.describe()} of live traffic, below the floor"
        return True, f"{reason} {percent(floor)} (gate_min_live_agreement)"
    return False, f"; live agreement {live.describe()}, at or above the floor {percent(floor)}"


def _allowed_drop(capability: str, thresholds: GateThresholds) -> float:
    return thresholds.max_identity_drop if capability.startswith(IDENTITY_PREFIX) else thresholds.max_capability_drop


def build_gate_set(frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """The rows both models answer: the base ``test`` split (``base`` True) and the ``feedback_holdout``."""
    parts = [frames["test"].assign(base=True)]
    if "feedback_holdout" in frames:
        parts.append(frames["feedback_holdout"].assign(base=False))
    return pd.concat(parts, ignore_index=True)


def capability_drops(results: Mapping[str, Sequence[Any]], champion: str, challenger: str) -> dict[str, float]:
    """The champion's minus the challenger's pass rate per capability both were tested on ({} unless both were)."""
    if champion not in results or challenger not in results:
        return {}
    before = {r.capability: r.pass_rate for r in results[champion]}
    return {r.capability: before[r.capability] - r.pass_rate for r in results[challenger] if r.capability in before}


def _correct(predictor: Any, gate_set: pd.DataFrame) -> np.ndarray:
    labels = predictor.predict(gate_set[TEXT_COLUMN].tolist()).labels
    return np.array(labels) == gate_set[LABEL_COLUMN].to_numpy()


def apply_policy(
    registered_name: str,
    challenger: Any,
    challenger_predictor: Any,
    gate_set: pd.DataFrame,
    *,
    policy: str = "gate",
    thresholds: GateThresholds = DEFAULT_THRESHOLDS,
    capabilities: Mapping[str, Sequence[Any]] | None = None,
    loaded_champion: registry.Champion | None = None,
    shadow_log: Path | None = None,
) -> str:
    """Decide whether ``challenger`` (a model version) becomes ``@champion``; return what happened.

    ``gate``: the first version ever is promoted; later ones only through :func:`decide_promotion` on
    ``gate_set``, whose numbers are tagged on both versions. ``always`` / ``never`` do what they say.
    ``gate_set`` may have a boolean ``base`` column marking rows of the base test split (default: all).
    ``capabilities`` maps versions to their behavioural results (``CapabilityResult``); when it has both
    the champion's and the challenger's, the gate compares them capability by capability. ``loaded_champion``
    (from :func:`registry.champion_against`) saves loading the champion again when it is still the champion.
    ``shadow_log`` (``Workspace.shadow_log``) gives the challenger's live agreement with the champion, read only
    when ``thresholds.min_live_agreement`` is above 0.

    Raises:
        ModelError: unknown policy.
    """
    if policy not in POLICIES:
        raise ModelError(f"promote must be one of {POLICIES}, got {policy!r}")
    version = str(challenger.version)
    champion = registry.version_for_alias(registered_name, CHAMPION)
    if policy == "never":
        return f"Version {version} not promoted (policy never)."
    if champion is None or policy == "always":
        why = "first version" if champion is None else "policy always"
        registry.promote(registered_name, version, why)
        return f"Version {version} is now @{CHAMPION} ({why})."
    if str(champion.version) == version:
        return f"Version {version} is already @{CHAMPION}."
    if loaded_champion is None or loaded_champion.version != str(champion.version):
        loaded_champion = registry.Champion(registered_name, str(champion.version))
    champion_predictor = loaded_champion.predictor
    base_rows = gate_set["base"].to_numpy(dtype=bool) if "base" in gate_set else None
    decision = decide_promotion(
        _correct(champion_predictor, gate_set),
        _correct(challenger_predictor, gate_set),
        thresholds,
        base_rows=base_rows,
        capability_drops=capability_drops(capabilities or {}, str(champion.version), version),
        live=agreement_between(shadow_log, str(champion.version), version)
        if shadow_log is not None and thresholds.min_live_agreement > 0
        else None,
    )
    tags = {**decision.tags(), "gate.champion_version": champion.version, "gate.challenger_version": version}
    record_decision(registered_name, version, tags, str(champion.version), "gate")
    if decision.promote:
        return f"Version {version} is now @{CHAMPION}: {decision.reason}."
    if decision.held:
        return (
            f"Version {version} held as @{CHALLENGER}; @{CHAMPION} stays version {champion.version}: {decision.reason}."
        )
    return f"Version {version} rejected; @{CHAMPION} stays version {champion.version}: {decision.reason}."


def record_decision(registered_name: str, version: str, tags: dict[str, str], compared_with: str, by: str) -> None:
    """Tag ``version`` with the decision's ``gate.*`` ``tags`` and the champion it was ``compared_with`` (""
    for none) with a ``challenged_by`` note; move ``@champion`` when ``gate.promote`` is true (``by`` says who
    decided, in the promotion's reason)."""
    reason = tags["gate.reason"]
    registry.tag_version(registered_name, version, tags)
    if compared_with:
        registry.tag_version(registered_name, compared_with, {f"challenged_by.{version}": reason})
    if tags.get("gate.promote") == "true":
        registry.promote(registered_name, version, f"{by}: {reason}")
