"""Does the loop adapt? A replay on a simulated clock through the running API, measured cycle by cycle.

Each cycle (one simulated day, or ``--hours-per-cycle``): the labels of yesterday's texts arrive, today's
texts are sent through the API (the champion of the moment answers them, and the served log keeps them),
then the loop runs one cycle at the simulated time: it ingests the labels, judges the champion (accuracy on
feedback, drift, and the label-free estimate on today's traffic), and maybe retrains behind the gate. The
record of each day sets the champion's accuracy on that day's texts before any model learnt them against
the estimate the loop made without their labels. At the end, the champion the replay started with and the
one it ended with are scored on the stream's final slice (never replayed) and on the SST-2 test set.

The Markdown tables of the outcome are :mod:`sentiment_lib.experiments.adaptation_report`.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from sentiment_lib.clock import SimulatedClock, WallClock, as_text
from sentiment_lib.data import importers
from sentiment_lib.data.schema import LABEL_COLUMN, TEXT_COLUMN
from sentiment_lib.errors import ModelError
from sentiment_lib.io import read_json, write_csv_atomic, write_json_atomic
from sentiment_lib.loop.cycle import Cycle, CycleSummary
from sentiment_lib.loop.replay import Replay
from sentiment_lib.monitoring.checks import acknowledgements, staleness
from sentiment_lib.monitoring.checks.verdicts import check_of
from sentiment_lib.serving.client import ApiClient
from sentiment_lib.settings import CHAMPION
from sentiment_lib.tracking import gate, registry, runs
from sentiment_lib.workspace import Workspace

log = logging.getLogger(__name__)


@dataclass
class DayRecord:
    """One cycle of a served replay."""

    cycle: int
    day: str  # the simulated time of the cycle
    champion: str  # the version that answered the day's texts
    served: int
    accuracy: float  # of those answers, against the day's labels (which no model had seen)
    estimate: float = float("nan")  # the loop's label-free estimate of it, with its 95% interval
    estimate_low: float = float("nan")
    estimate_high: float = float("nan")
    verdict: str = ""
    drift_auc: float = float("nan")
    drift_ngrams: list[str] = field(default_factory=list)  # most typical of the day's texts (drift explanation)
    retrain: str = ""  # what a retrain in this cycle led to, with the gate's numbers
    actions: list[str] = field(default_factory=list)
    labels: int = 0  # labels given this day (yesterday's texts: all of them, or the queue's under a budget)

    @property
    def covered(self) -> bool:
        return self.estimate_low <= self.accuracy <= self.estimate_high


def served_accuracy(answers: list[dict], labels: pd.Series) -> float:
    """Share of ``answers`` (the API's, in order) whose sentiment is the label."""
    predicted = np.array([a["sentiment"] for a in answers])
    return float(np.mean(predicted == labels.to_numpy()))


def gate_outcome(gate: dict[str, str]) -> str:
    """The gate's decision on the version a cycle trained (:attr:`CycleSummary.gate`) as one phrase; "" when
    the cycle trained none."""
    if not gate:
        return ""
    if "promote" not in gate:  # the first model, or a step after training failed
        return f"v{gate['version']} trained, no gate decision (see the cycle's report)"
    kind = registry.gate_outcome(gate, prefix="")
    # better on accuracy and still rejected (a behavioural test, SST-2): the numbers alone would not say why
    why = f" ({gate['reason']})" if kind != "promoted" and gate.get("reason") else ""
    return (
        f"v{gate['version']} {kind}{why}: {gate.get('challenger_accuracy')} vs {gate.get('champion_accuracy')} "
        f"on the {gate.get('judged_on')} (n = {gate.get('n')}, p = {gate.get('p_value')}; "
        f"base test split {-float(gate.get('base_regression', 0)):+.4f})"
    )


class ServedReplay:
    """Drives :class:`Replay` through a running API and the loop's :class:`Cycle` on a simulated clock."""

    def __init__(self, cycle: Cycle, replay: Replay, client: ApiClient, clock: SimulatedClock | WallClock):
        self.cycle, self.replay, self.client, self.clock = cycle, replay, client, clock
        self.ws = cycle.ws
        self.records: list[DayRecord] = [DayRecord(**r) for r in read_json(self.records_path, [])]

    @property
    def records_path(self):
        return self.ws.reports / "replay" / "adaptation.json"

    def champion(self) -> str:
        """Raises ModelError: no champion yet (run ``make demo`` first)."""
        runs.configure_client(self.ws.root)
        found = registry.version_for_alias(self.ws.registered_model, CHAMPION)
        if found is None:
            raise ModelError("a served replay needs a champion to serve: run `make demo` (or runner.py pipeline) first")
        return str(found.version)

    def first_champion(self) -> str:
        return self.replay.first_champion(self.champion())

    def newest_before(self) -> str:
        """The newest version registered when the replay started."""
        return self.replay.newest_before(self.newest_registered())

    def newest_trained(self, before: str) -> str | None:
        """The newest version registered after version ``before`` when it is not the champion (a challenger the
        gate rejected or held: what the labels taught, gate aside); None otherwise."""
        return newest_after(self.ws.registered_model, before, self.champion())

    def newest_registered(self) -> str:
        """The newest version registered so far ("0" before any)."""
        return registry.newest_version(self.ws.registered_model)

    def run_one(self) -> DayRecord | None:
        """One simulated day; None when the stream is used up.

        The batch counts as served, and the clock moves on, only once the day's cycle has run: a cycle that
        could not run (the workspace busy, the process stopped) leaves the day to be replayed whole.

        Raises:
            WorkspaceBusyError: another command holds the workspace; nothing of the day was recorded.
            ServingUnavailableError: the API does not answer, or serves another registry's model.
        """
        champion = self.champion()
        self.client.wait_for_version(champion, registry.version_runs(self.ws.registered_model))
        labels = self._deliver_labels()
        batch = self.replay.next_to_serve()
        if batch.empty:
            return None
        answers = self.client.predict(batch[TEXT_COLUMN].tolist(), request_id=f"replay-{self.replay.served}")
        day = self.clock.now()
        summary = self.cycle.run(now=day)
        self.replay.mark_served(len(batch))
        self.clock.advance()
        self.replay.save_clock(self.clock.now())
        record = self._record(summary, day, answers, batch[LABEL_COLUMN])
        record.labels = labels
        self.records.append(record)
        self._save()
        return record

    def _deliver_labels(self) -> int:
        """Yesterday's labels into ``data/incoming/``: all of them, or the answers to the labelling queue."""
        if self.replay.label_policy != "all":
            return self.replay.answer_queues(self.ws.to_label)
        before = self.replay.position
        self.replay.drop_labels_of_served()
        return self.replay.position - before

    def _record(self, summary: CycleSummary, day: datetime, answers: list[dict], labels: pd.Series) -> DayRecord:
        verdict = read_json(self.ws.verdict(summary.cycle), None)
        drift = check_of(verdict, "drift")
        # the estimate from the day's own answers: the loop's check reads its latest staleness_window of
        # served answers, which is the same set only when that window is one day of traffic
        confidences = np.array([a["confidence"] for a in answers], dtype=float)
        low, high = staleness.estimate_interval(confidences)
        return DayRecord(
            cycle=len(self.records) + 1,
            day=as_text(day),
            champion=answers[0]["model_version"] if answers else "",
            served=len(answers),
            accuracy=served_accuracy(answers, labels),
            estimate=float(confidences.mean()) if len(confidences) else float("nan"),
            estimate_low=low,
            estimate_high=high,
            verdict=summary.status or summary.failed_step or "-",
            drift_auc=drift.get("value", float("nan")),
            drift_ngrams=acknowledgements.top_ngrams(verdict or {})[:3],
            retrain=gate_outcome(summary.gate),
            actions=summary.actions,
        )

    def _save(self) -> None:
        write_json_atomic(self.records_path, [asdict(r) for r in self.records])
        write_csv_atomic(pd.DataFrame([asdict(r) for r in self.records]), self.records_path.with_suffix(".csv"))


def estimate_quality(records: list[DayRecord]) -> dict[str, float]:
    """Mean absolute error of the estimate against the realised accuracy, and how often its interval held it."""
    judged = [r for r in records if not np.isnan(r.estimate)]
    if not judged:
        return {"days": 0, "mae": float("nan"), "coverage": float("nan")}
    errors = [abs(r.estimate - r.accuracy) for r in judged]
    return {"days": len(judged), "mae": float(np.mean(errors)), "coverage": float(np.mean([r.covered for r in judged]))}


def newest_after(registered_name: str, before: str, champion: str) -> str | None:
    """The newest version registered after version ``before``, unless it is ``champion``; None when there is none."""
    newest = registry.newest_version(registered_name, default=before)
    return newest if int(newest) > int(before) and newest != champion else None


@dataclass(frozen=True)
class FinalScore:
    version: str
    holdout_accuracy: float
    sst2_accuracy: float


def final_scores(ws: Workspace, versions: list[str], holdout: pd.DataFrame) -> tuple[list[FinalScore], float]:
    """Each version's accuracy on the stream's final slice and on the SST-2 test set (NaN when its file is
    absent), and the one-sided McNemar p-value that the second version beats the first on the slice (NaN with one).

    Raises:
        DataValidationError: the SST-2 test set is malformed.
    """
    sst2 = importers.import_sst2(ws.sst2_test.parent, splits=("test",)).frame if ws.sst2_test.is_file() else None
    scores, correct = [], []
    for version in versions:
        predictor = registry.load_served_model(ws.registered_model, version=version).predictor
        on_holdout = _correct(predictor, holdout)
        on_sst2 = float(_correct(predictor, sst2).mean()) if sst2 is not None else float("nan")
        scores.append(FinalScore(version, float(on_holdout.mean()), on_sst2))
        correct.append(on_holdout)
    return scores, gate.mcnemar_p_value(correct[0], correct[1]) if len(correct) > 1 else float("nan")


def _correct(predictor: Any, frame: pd.DataFrame) -> np.ndarray:
    return np.array(predictor.predict(frame[TEXT_COLUMN].tolist()).labels) == frame[LABEL_COLUMN].to_numpy()
