"""One cycle of the watchful loop: ingest feedback, judge the champion, maybe retrain behind the gate.

A cycle never raises, whatever fails inside it (a notebook, a bad file, the registry, the disk): it
alerts, records what happened in ``reports/<cycle>/cycle.json`` and leaves the champion as it was. What
must survive a restart (the last verdict, past retrains, the alert cooldowns) lives in ``state/``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sentiment_lib import notebooks, reports
from sentiment_lib.alerting import messages
from sentiment_lib.alerting.sender import alert_sender
from sentiment_lib.alerting.transport import Alert
from sentiment_lib.clock import as_text, wall_now
from sentiment_lib.data import feedback
from sentiment_lib.errors import DataValidationError, RegistryUnavailableError, SentimentError, StepFailedError
from sentiment_lib.io import read_json, write_json_atomic
from sentiment_lib.labeling import cycle_queue, queue
from sentiment_lib.locking import workspace_lock
from sentiment_lib.monitoring.checks.staleness import HEALTHY
from sentiment_lib.settings import CHALLENGER, CHAMPION, settings_for
from sentiment_lib.tracking import registry, runs, shadow_gate
from sentiment_lib.workspace import Workspace

log = logging.getLogger(__name__)


@dataclass
class LoopState:
    """What the loop remembers between cycles and restarts."""

    last_status: str = ""
    retrains: list[str] = field(default_factory=list)  # ISO times of retrain attempts
    store_rows_at_last_retrain: int = 0

    @classmethod
    def load(cls, path: Path) -> LoopState:
        return cls(**read_json(path, {}))

    def save(self, path: Path) -> None:
        write_json_atomic(path, asdict(self))

    def retrains_between(self, start: datetime, end: datetime) -> int:
        """Retrains in (start, end]: one dated after ``end`` (a replay's simulated future) is not counted."""
        return sum(start < datetime.fromisoformat(t) <= end for t in self.retrains)


@dataclass
class CycleSummary:
    """What one cycle saw and did; written to ``reports/<cycle>/cycle.json`` for the index page."""

    cycle: str
    started: str
    champion: str = ""
    status: str = ""
    reasons: list[str] = field(default_factory=list)
    ingested_rows: int = 0
    quarantined: list[str] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)
    alerts: list[str] = field(default_factory=list)
    failed_step: str = ""
    # the version trained this cycle ("version") and the gate's numbers on it (its gate.* tags without the
    # prefix; none when no gate judged it: the first model, or a step after training failed)
    gate: dict[str, str] = field(default_factory=dict)


class Cycle:
    """One pass: ingest → (first training if there is no champion) → staleness → maybe retrain → reports."""

    def __init__(
        self,
        workspace: str | Path,
        preset: str | None,
        overrides: Mapping[str, Any],
        stop_requested: Callable[[], bool] = lambda: False,
        command: str = "runner.py once",
        wait_for_lock: bool = False,
    ):
        self.preset = preset
        self.overrides = notebooks.check_overrides(overrides)
        self.settings = settings_for(preset, self.overrides)
        # the same settings the notebooks get: one feedback store, one registered model for both
        self.ws = Workspace(workspace, self.settings)
        self.sender = alert_sender(self.ws)
        self.stop_requested = stop_requested
        self.command = command
        self.wait_for_lock = wait_for_lock
        self.now = wall_now()  # the cycle's moment on the loop's clock, set by run()
        self.alert_seconds_left = 0.0  # of this cycle's alert budget: only time spent sending counts, set by run()

    def run(self, now: datetime | None = None) -> CycleSummary:
        """Run one cycle under the workspace lock; see the class docstring.

        ``now`` is the loop's clock (default: the wall clock); a replay passes its simulated time, and
        everything the cycle dates (feedback arrival, the versions it trains, alerts, guardrails) uses it.

        Whatever goes wrong inside the cycle is caught here, alerted and recorded, so the next cycle runs.

        Raises:
            WorkspaceBusyError: another command holds the lock (and the cycle was not asked to wait).
        """
        now = self.now = now or wall_now()
        self.alert_seconds_left = self.settings.alert_budget_seconds
        summary = CycleSummary(notebooks.new_cycle_id(), as_text(now))
        with workspace_lock(self.ws, self.command, wait=self.wait_for_lock):
            state = LoopState()
            try:
                state = self._load_state(summary)
                self._run_steps_of_cycle(summary, state, now)
            except StepFailedError as err:
                self._step_failed(summary, err)
            except RegistryUnavailableError as err:
                self._registry_unavailable(summary, err)
            except Exception as err:  # the cycle boundary: anything else is alerted here, never silent
                log.exception("Cycle %s failed", summary.cycle)
                self._cycle_failed(summary, err)
            self._record(summary, state)
        return summary

    def _load_state(self, summary: CycleSummary) -> LoopState:
        """The loop's memory; a damaged file is moved aside (and said so) rather than failing every cycle."""
        try:
            return LoopState.load(self.ws.loop_state)
        except (DataValidationError, TypeError) as err:
            kept = self.ws.loop_state.with_name(f"{self.ws.loop_state.name}.damaged-{summary.cycle}")
            self.ws.loop_state.replace(kept)
            summary.actions.append(f"{err}: moved to {kept.name}; the loop starts with an empty memory")
            return LoopState()

    def _record(self, summary: CycleSummary, state: LoopState) -> None:
        """Save the loop's memory and the cycle's summary; a failure here (a full disk) is alerted, not raised."""
        try:
            state.save(self.ws.loop_state)
            self._write_summary(summary)
        except Exception as err:  # the last line of defence: the loop must go on
            log.exception("Cycle %s could not be recorded", summary.cycle)
            self._cycle_failed(summary, err, what="could not record its summary")

    def _run_steps_of_cycle(self, summary: CycleSummary, state: LoopState, now: datetime) -> None:
        self._ingest(summary, now)
        runs.configure_client(self.ws.root)
        champion = registry.version_for_alias(self.ws.registered_model, CHAMPION)
        if champion is None:
            summary.actions.append("no champion yet: training the first model")
            self._train(summary)
            return
        summary.champion = str(champion.version)
        if self.stop_requested():
            summary.actions.append("stop requested: cycle ended after ingestion")
            return
        self._judge_held_challenger(summary)
        self._run(summary.cycle, ["staleness"])
        verdict = read_json(self.ws.verdict(summary.cycle), None)
        if verdict is None:
            raise SentimentError(f"the staleness step wrote no verdict ({self.ws.verdict(summary.cycle)})")
        summary.champion, summary.status, summary.reasons = (
            verdict["model_version"],
            verdict["status"],
            verdict["reasons"],
        )
        self._alert_on_verdict(summary, verdict, state)
        self._queue_labels(summary, verdict)
        if summary.status != HEALTHY:
            self._maybe_retrain(summary, state, now)

    def _judge_held_challenger(self, summary: CycleSummary) -> None:
        """A challenger the gate held for live texts is promoted or rejected once the shadow log has enough; a
        promotion here comes before the staleness check, which then judges the new champion."""
        judged = shadow_gate.judge_held_challenger(self.ws.registered_model, self.ws.shadow_log, self.settings.gate)
        if judged is None:
            return
        if judged.outcome == shadow_gate.WAITING:
            summary.actions.append(f"version {judged.version} held in the shadow: {judged.reason}")
            return
        serving = judged.version if judged.promoted else judged.champion_version
        self._alert(summary, messages.held_judged(judged.version, serving, judged.outcome, judged.reason, judged.gate))
        summary.actions.append(f"version {judged.version}, held in the shadow, {judged.outcome}: {judged.reason}")
        reports.append_event(self.ws.reports, as_text(self.now), judged.outcome, judged.version)
        if judged.promoted:
            summary.champion = judged.version

    def _run(self, cycle: str, steps: list[str] | tuple[str, ...]) -> None:
        declared = set().union(*(notebooks.declared_parameters(step) for step in steps))
        own = {k: v for k, v in self.overrides.items() if k in declared}
        if "now" in declared:
            own["now"] = as_text(self.now)
        notebooks.run_steps(
            steps,
            self.preset,
            own,
            self.ws.root,
            cycle,
            timeout=self.settings.step_timeout_seconds,
            retries=self.settings.step_retries,
        )

    def _ingest(self, summary: CycleSummary, now: datetime) -> None:
        report = feedback.IngestReport()
        try:
            feedback.ingest_workspace(self.ws, report, now, queue.text_finder(self.ws.to_label))
        finally:  # files quarantined before a failure are alerted all the same
            self._report_ingestion(summary, report)

    def _report_ingestion(self, summary: CycleSummary, report: feedback.IngestReport) -> None:
        summary.ingested_rows = report.rows_added
        if report.files:
            summary.actions.append(
                f"ingested {len(report.files)} file(s): {report.rows_added} new labelled rows, "
                f"{report.duplicates_skipped} duplicates skipped"
            )
        summary.quarantined.extend(report.quarantined)
        if report.quarantined:
            self._alert(summary, messages.quarantined(report.quarantined, self.ws.quarantine, self.ws.incoming))

    def _alert(self, summary: CycleSummary, alert: Alert) -> None:
        """Send ``alert`` within what is left of the cycle's alert budget; once it is spent, keep it in the
        outbox unsent (a cycle must not wait on unreachable channels for longer than the budget)."""
        if self.alert_seconds_left <= 0:
            path = self.sender.keep_unsent(alert, self.now)
            log.error("ALERT %s not sent: the cycle's %g s for alerts (alert_budget_seconds) are spent; kept in %s",
                      alert.subject, self.settings.alert_budget_seconds, path)  # fmt: skip
            summary.alerts.append(f"{alert.kind}: {alert.subject} (not sent: alert budget spent, kept in outbox)")
            return
        started = time.monotonic()
        outcome = self.sender.send(alert, self.now, deadline=started + self.alert_seconds_left)
        self.alert_seconds_left -= time.monotonic() - started  # the notebooks between alerts are not counted
        summary.alerts.append(f"{alert.kind}: {alert.subject} ({outcome})")

    def _alert_on_verdict(self, summary: CycleSummary, verdict: dict, state: LoopState) -> None:
        version, status = summary.champion, summary.status
        report = self.ws.report(summary.cycle, notebooks.STEPS["staleness"])
        if status != HEALTHY:
            self._alert(summary, messages.not_healthy(version, status, summary.reasons, verdict, report))
        elif state.last_status not in ("", HEALTHY):
            self._alert(summary, messages.healthy_again(version, state.last_status, report, summary.cycle))
        state.last_status = status

    def _queue_labels(self, summary: CycleSummary, verdict: dict) -> None:
        """Ask for the labels that matter (``data/to_label/<cycle>.csv``); a queue that cannot be written is
        said in the cycle's actions and logged, never fatal: the verdict and the retrain go on without it."""
        try:
            outcome = cycle_queue.write_queue(self.ws, summary.cycle, verdict)
        except Exception as err:  # whatever a damaged log line or a full disk raises, the retrain must go on
            log.exception("Cycle %s: the labelling queue could not be written", summary.cycle)
            summary.actions.append(f"labelling queue not written: {err}")
            return
        if outcome.path is not None:
            summary.actions.append(outcome.summary())

    def _retrain_blocker(self, state: LoopState, store_rows: int, now: datetime) -> str:
        """Why the guardrails forbid retraining now, or "" when they allow it."""
        new_rows = store_rows - state.store_rows_at_last_retrain
        if new_rows < self.settings.min_new_rows:
            return f"{new_rows} new labelled rows since the last retrain, {self.settings.min_new_rows} needed"
        done = state.retrains_between(now - timedelta(days=1), now)
        if done >= self.settings.max_retrains_per_day:
            return f"{done} retrains in the last 24 hours (max_retrains_per_day {self.settings.max_retrains_per_day})"
        return ""

    def _maybe_retrain(self, summary: CycleSummary, state: LoopState, now: datetime) -> None:
        store_rows = len(feedback.read_store(self.ws.feedback_store))
        blocker = self._retrain_blocker(state, store_rows, now)
        if blocker:
            summary.actions.append(f"not retrained: {blocker}")
            return
        if self.stop_requested():
            summary.actions.append("stop requested: retraining left for the next run")
            return
        state.retrains.append(now.isoformat())
        reports.append_event(self.ws.reports, as_text(now), "retrain", summary.champion)
        started = messages.retrain_started(summary.champion, summary.status, summary.reasons, store_rows, summary.cycle)
        self._alert(summary, started)
        summary.actions.append(f"retraining on the base data + {store_rows} labelled feedback rows")
        self._train(summary)
        state.store_rows_at_last_retrain = store_rows
        self._report_gate(summary)

    def _train(self, summary: CycleSummary) -> None:
        """The training steps. A version they registered is named in ``summary.gate`` even when a later step
        failed or no gate judged it (the first model), so no trained version goes unreported."""
        before = self._challenger_version()
        try:
            self._run(summary.cycle, notebooks.TRAINING_STEPS)
        finally:
            after = self._challenger_version()
            if after and after != before:
                summary.gate.setdefault("version", after)

    def _challenger_version(self) -> str:
        try:
            found = registry.version_for_alias(self.ws.registered_model, CHALLENGER)
        except RegistryUnavailableError:  # said by the step that failed; this only names a version
            return ""
        return "" if found is None else str(found.version)

    def _report_gate(self, summary: CycleSummary) -> None:
        name = self.ws.registered_model
        challenger = registry.require_version(name, CHALLENGER)
        champion = registry.require_version(name, CHAMPION)
        tags = challenger.tags
        # the aliases say whether it serves (a policy "always" leaves no gate tags); the tags say why not
        kind = "promoted" if str(champion.version) == str(challenger.version) else registry.gate_outcome(tags)
        summary.gate = {"version": str(challenger.version), **registry.gate_tags(tags)}
        report = self.ws.report(summary.cycle, notebooks.STEPS["evaluate"])
        finished = messages.retrain_finished(str(challenger.version), str(champion.version), kind, summary.gate, report)
        self._alert(summary, finished)
        summary.actions.append(f"version {challenger.version} {kind} by the gate: {tags.get('gate.reason', '')}")
        reports.append_event(self.ws.reports, as_text(self.now), kind, str(challenger.version))

    def _step_failed(self, summary: CycleSummary, err: StepFailedError) -> None:
        step = Path(err.executed_notebook or "unknown").stem
        summary.failed_step = step
        summary.actions.append(f"step {step} failed; the champion is unchanged")
        report = self.ws.report(summary.cycle, step)
        alert = messages.step_failed(err, step, err.executed_notebook, summary.champion or "none", report)
        self._alert(summary, alert)

    def _registry_unavailable(self, summary: CycleSummary, err: RegistryUnavailableError) -> None:
        summary.failed_step = "registry"
        summary.actions.append(f"{err}; nothing was trained or promoted, the champion is unchanged")
        alert = messages.registry_unavailable(err, runs.describe_store(self.ws.root), self.ws.runner_log)
        self._alert(summary, alert)

    def _cycle_failed(self, summary: CycleSummary, err: BaseException, what: str = "failed") -> None:
        summary.failed_step = summary.failed_step or "cycle"
        summary.actions.append(f"cycle {what}: {messages.last_line(err)}; the champion is unchanged")
        report, index, log_file = self.ws.cycle_dir(summary.cycle), self.ws.index, self.ws.runner_log
        self._alert(summary, messages.cycle_failed(summary.cycle, what, err, report, index, log_file))

    def _write_summary(self, summary: CycleSummary) -> None:
        reports.write_cycle(self.ws.cycle_dir(summary.cycle), asdict(summary))
        reports.write_index(self.ws.reports)
        log.info("Cycle %s: %s", summary.cycle, "; ".join([summary.status or "-", *summary.actions]))
