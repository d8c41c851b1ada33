"""What the operator has accepted about drift: a known shift acknowledged, or a new drift reference.

``runner.py ack --reason "..."`` records the latest drift of the serving champion (its AUC and top n-grams) as
understood. The drift check still runs and is reported, but stops firing (so stops alerting and retraining)
until the drift grows past it (an AUC above the acknowledged one by :data:`ACK_MARGIN`), or becomes another
shift (fewer than half of its top n-grams still among the top), or another version becomes champion.

``runner.py rebaseline`` makes the champion's recent served traffic the drift reference instead of its
training data: after a promotion into a domain the training data hardly covers, drift is then measured
from where the model now serves. Both live in ``state/drift.json`` and every verdict says which applies.
"""

from __future__ import annotations

import getpass
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from typing import Any

import pandas as pd

from sentiment_lib import reports
from sentiment_lib.clock import as_text
from sentiment_lib.data.schema import TEXT_COLUMN
from sentiment_lib.errors import DataValidationError, SentimentError
from sentiment_lib.io import read_csv_strict, read_json, write_csv_atomic, write_json_atomic
from sentiment_lib.monitoring.checks.verdicts import check_of
from sentiment_lib.serving.served_log import latest_served_by
from sentiment_lib.settings import CHAMPION
from sentiment_lib.tracking import registry
from sentiment_lib.workspace import Workspace

ACK_MARGIN = 0.02  # drift AUC this much above the acknowledged one is a grown shift, alerted again
SAME_SHIFT_SHARE = 0.5  # share of the acknowledged top n-grams that must still be among the top
MIN_REFERENCE_TEXTS = 20  # fewer served texts cannot serve as a drift reference (the check needs 20)


@dataclass(frozen=True)
class Acknowledgement:
    model_version: str
    drift_auc: float
    top_ngrams: list[str]
    reason: str
    at: str
    by: str
    cycle: str  # the cycle whose verdict was acknowledged

    def covers(self, version: str, auc: float, ngrams: list[str]) -> bool:
        """The same champion, drift no stronger than acknowledged (within the margin), and the same shift."""
        if version != self.model_version or auc > self.drift_auc + ACK_MARGIN:
            return False
        if not self.top_ngrams or not ngrams:
            return True
        kept = len(set(self.top_ngrams) & set(ngrams)) / len(self.top_ngrams)
        return kept >= SAME_SHIFT_SHARE

    def describe(self) -> str:
        return f"acknowledged by {self.by} at {self.at} (AUC {self.drift_auc:.3f}): {self.reason}"


@dataclass(frozen=True)
class Reference:
    model_version: str
    path: str  # the served texts kept as the reference, relative to the workspace
    rows: int
    at: str

    def describe(self) -> str:
        return f"the {self.rows} texts v{self.model_version} served before the rebaseline at {self.at}"


@dataclass
class DriftState:
    acknowledged: Acknowledgement | None = None
    reference: Reference | None = None
    history: list[dict[str, Any]] = field(default_factory=list)  # every ack and rebaseline, oldest first

    @classmethod
    def load(cls, ws: Workspace) -> DriftState:
        """Raises DataValidationError: the file is damaged."""
        data = read_json(ws.drift_state, {})
        try:
            ack, ref = data.get("acknowledged"), data.get("reference")
            return cls(
                Acknowledgement(**ack) if ack else None, Reference(**ref) if ref else None, data.get("history", [])
            )
        except TypeError as err:
            raise DataValidationError(f"{ws.drift_state} is damaged ({err}); move it aside to start afresh") from None

    def save(self, ws: Workspace) -> None:
        write_json_atomic(ws.drift_state, asdict(self))


def _champion(ws: Workspace) -> Any:
    return registry.require_version(ws.registered_model, CHAMPION)


def top_ngrams(verdict: dict) -> list[str]:
    """The n-grams most typical of recent texts in a verdict's drift explanation (empty without one)."""
    explanation = verdict.get("drift_explanation") or {}
    return [str(item["ngram"]) for item in explanation.get("typical_of_recent", []) if "ngram" in item]


def acknowledge(ws: Workspace, reason: str, now: datetime) -> Acknowledgement:
    """Accept the drift of the latest verdict for the serving champion; see the module docstring.

    Raises:
        SentimentError: no reason, no verdict yet, no drift in it, or it judged another version than the champion.
    """
    if not reason.strip():
        raise SentimentError('ack needs --reason "...": the next operator must know why the shift was accepted')
    latest = reports.latest_verdict(ws.reports)
    if latest is None:
        raise SentimentError(f"no verdict in {ws.reports} yet: run a cycle (runner.py once) first")
    path, verdict = latest
    drift, version = check_of(verdict, "drift"), str(_champion(ws).version)
    if not drift:
        raise SentimentError(f"the latest verdict ({path}) has no drift check: nothing to acknowledge")
    if str(verdict.get("model_version")) != version:
        raise SentimentError(
            f"the latest verdict ({path}) judged version {verdict.get('model_version')}, but the champion is "
            f"version {version}: run a cycle first"
        )
    ack = Acknowledgement(
        version, float(drift["value"]), top_ngrams(verdict), reason.strip(), as_text(now), _operator(), path.parent.name
    )
    state = DriftState.load(ws)
    state.acknowledged = ack
    state.history.append({"action": "ack", **asdict(ack)})
    state.save(ws)
    return ack


def _operator() -> str:
    try:
        return getpass.getuser()
    except OSError:  # no user name in this environment (a container without one)
        return "unknown"


def rebaseline(ws: Workspace, now: datetime) -> Reference:
    """Keep the champion's latest ``drift_sample`` served texts as the drift reference.

    Raises:
        SentimentError: the champion has served fewer than 20 texts.
    """
    champion = _champion(ws)
    version = str(champion.version)
    served = latest_served_by(ws.served_log, version, registry.registered_at(champion), ws.settings.drift_sample)
    texts = [r["text"] for r in served]
    if len(texts) < MIN_REFERENCE_TEXTS:
        raise SentimentError(
            f"version {version} has served {len(texts)} texts; at least {MIN_REFERENCE_TEXTS} are needed as a "
            "drift reference: rebaseline once it has served some traffic"
        )
    path = ws.drift_references / f"served-v{version}-{now.strftime('%Y%m%dT%H%M%S')}.csv"
    write_csv_atomic(pd.DataFrame({TEXT_COLUMN: texts}), path)
    reference = Reference(version, str(path.relative_to(ws.root)), len(texts), as_text(now))
    state = DriftState.load(ws)
    state.reference = reference
    state.acknowledged = None  # its AUC and n-grams were measured against the old reference
    state.history.append({"action": "rebaseline", **asdict(reference)})
    state.save(ws)
    return reference


def reference_texts(ws: Workspace, version: str) -> tuple[list[str] | None, str]:
    """The rebaselined reference of ``version`` and its description, or (None, "the training data")."""
    reference = DriftState.load(ws).reference
    if reference is None or reference.model_version != version:
        return None, "the training data"
    texts = read_csv_strict(ws.root / reference.path)[TEXT_COLUMN].astype(str).tolist()
    return texts, reference.describe()


def acknowledgement_for(ws: Workspace, version: str) -> Acknowledgement | None:
    ack = DriftState.load(ws).acknowledged
    return ack if ack is not None and ack.model_version == version else None


def unfire(check: Any, ack: Acknowledgement) -> Any:
    """The drift check as the acknowledgement leaves it: reported, not fired."""
    return replace(check, fired=False, detail=f"{check.detail}; {ack.describe()}")
