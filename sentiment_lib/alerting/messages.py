"""What the loop's alerts say: the subject, body and cooldown key of each kind, worded in one place.

The loop (:mod:`sentiment_lib.loop.cycle`) decides when to alert and passes the facts; these functions only
word them. A key names the problem for the cooldown: the same key is not sent again within it.
"""

from __future__ import annotations

import hashlib
import traceback
from collections.abc import Mapping, Sequence
from pathlib import Path

from sentiment_lib.alerting.transport import Alert
from sentiment_lib.monitoring.drift_rendering import explanation_lines


def quarantined(files: Mapping[str, str], quarantine: Path, incoming: Path) -> Alert:
    """One alert for every file quarantined in a cycle (file name -> reason): one per file kept a cycle of bad
    files (and unreachable transports) busy for over an hour."""
    names = sorted(files)
    lines = [f"- {name}: {files[name]}\n  moved to {quarantine / name}" for name in names]
    body = (
        f"{len(names)} incoming file(s) were not ingested and were moved to {quarantine}:\n"
        + "\n".join(lines)
        + f"\n\nNothing was deleted: fix a file and drop it into {incoming} again."
    )
    subject = f"Incoming file {names[0]} quarantined"
    if len(names) > 1:
        subject = f"{len(names)} incoming files quarantined"
    key = "quarantine:" + hashlib.sha256("\n".join(names).encode()).hexdigest()[:16]
    return Alert("quarantine", subject, body, key)


def not_healthy(version: str, status: str, reasons: Sequence[str], verdict: Mapping, report: Path) -> Alert:
    """The champion is stale or degraded: why, every check, and what changed when drift was tested.

    ``verdict`` is the staleness step's ``verdict.json``. One key per (verdict, model version): the same problem
    is not mailed again within the cooldown.
    """
    fired = [c["name"] for c in verdict["checks"] if c["fired"]]
    body = f"Model version {version} is {status}.\n\nWhy:\n" + "\n".join(f"- {r}" for r in reasons)
    body += "\n\nAll checks:\n" + "\n".join(f"- {c['name']}: {c['detail']}" for c in verdict["checks"])
    if explained := explanation_lines(verdict.get("drift_explanation")):
        body += "\n\n" + "\n".join(explained)
    body += f"\n\nReport: {report}\n"
    subject = f"Model v{version} {status}: {', '.join(fired)}"
    return Alert(status, subject, body, f"{status}:v{version}")


def healthy_again(version: str, was: str, report: Path, cycle: str) -> Alert:
    body = f"Model version {version} is healthy again (was {was}).\n\nReport: {report}\n"
    return Alert("healthy", f"Model v{version} back to healthy", body, f"healthy:{cycle}")


def retrain_started(version: str, status: str, reasons: Sequence[str], store_rows: int, cycle: str) -> Alert:
    listed = "\n".join(f"- {r}" for r in reasons)
    body = f"Model version {version} is {status}:\n{listed}\n\nRetraining on the base data "
    body += f"plus {store_rows} labelled feedback rows (preprocess -> train -> evaluate with the gate)."
    return Alert("retrain_started", "Retraining started", body, f"retrain:{cycle}")


# what happens next, for the gate's outcomes that are not final (gate.outcome)
WHAT_FOLLOWS = {
    "held": " It stays @challenger: the API scores a share of live texts with it, and a later cycle promotes or "
    "rejects it once the shadow log has enough of them (gate_min_live_texts).",
}


def retrain_finished(challenger: str, champion: str, kind: str, gate: Mapping[str, str], report: Path) -> Alert:
    """The gate's decision on the challenger (``kind``: promoted, rejected or held), with its numbers (the
    challenger's ``gate.*`` tags without the prefix)."""
    body = (
        f"Retraining finished. Challenger version {challenger} was {kind}; @champion is version {champion}."
        f"{WHAT_FOLLOWS.get(kind, '')}\n\n{gate_numbers(gate)}\n\nReport: {report}\n"
    )
    subject = f"Retraining finished: version {challenger} {kind}"
    return Alert(kind, subject, body, f"{kind}:v{challenger}")


def held_judged(challenger: str, champion: str, kind: str, reason: str, gate: Mapping[str, str]) -> Alert:
    """A challenger held in the shadow was judged (``kind``: promoted or rejected) and why."""
    body = (
        f"Challenger version {challenger}, held in the shadow by the gate, was {kind}: {reason}.\n"
        f"@champion is version {champion}.\n\n{gate_numbers(gate)}\n"
    )
    return Alert(kind, f"Held challenger version {challenger} {kind}", body, f"{kind}:v{challenger}")


def gate_numbers(gate: Mapping[str, str]) -> str:
    lines = (f"- {key}: {value}" for key, value in sorted(gate.items()) if key != "version")
    return "Gate decision:\n" + "\n".join(lines)


def step_failed(err: Exception, step: str, executed_notebook: str | None, champion: str, report: Path) -> Alert:
    """A notebook step failed (``champion``: the version serving, or "none")."""
    body = (
        f"{err}\n\nThe champion is unchanged (version {champion}) and the loop goes on.\n"
        f"Executed notebook: {executed_notebook}\nReport: {report}\n"
    )
    return Alert("step_failed", f"Pipeline step {step} failed", body, f"step_failed:{step}:v{champion}")


def registry_unavailable(err: Exception, registry: str, log: Path) -> Alert:
    """The registry could not be read (``registry``: where it is, as the log may show it)."""
    body = (
        f"{err}\n\nWithout the registry the loop cannot tell which model serves, so this cycle neither trained "
        f"nor promoted anything; the API keeps serving the model it has loaded. The next cycle tries again.\n"
        f"Registry: {registry}\nLog: {log}\n"
    )
    return Alert("registry_unavailable", "The model registry cannot be read", body, "registry")


def cycle_failed(cycle: str, what: str, err: BaseException, report: Path, index: Path, log: Path) -> Alert:
    """A cycle failed in a way no step accounts for (``what``: "failed", or what it could not do)."""
    body = (
        f"Cycle {cycle} {what}:\n{last_line(err)}\n\nThe champion is unchanged and the loop goes on.\n"
        f"Report: {report} (index: {index})\n"
        f"Log with the whole traceback: {log}\n"
    )
    subject = f"A cycle of the loop {what}: {type(err).__name__}"
    return Alert("cycle_failed", subject, body, f"cycle_failed:{type(err).__name__}")


def last_line(err: BaseException) -> str:
    """The exception's type and message, as the last line of its traceback says them."""
    return traceback.format_exception_only(err)[-1].strip()
