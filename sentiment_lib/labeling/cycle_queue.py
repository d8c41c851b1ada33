"""A cycle's labelling queue: the workspace's served texts since the last queue, chosen by
:mod:`sentiment_lib.labeling.queue`, written as ``data/to_label/<cycle>.csv``.

The texts considered are those served after the newest one the previous queue considered (kept in
``state/label_queue.json``), so each served text is offered to one queue; the served log's own times are
used, whatever clock the loop runs on (a replay's simulated days).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sentiment_lib.data import feedback
from sentiment_lib.data.schema import TEXT_COLUMN
from sentiment_lib.io import read_json, write_csv_atomic, write_json_atomic
from sentiment_lib.labeling import queue
from sentiment_lib.monitoring.checks.acknowledgements import top_ngrams
from sentiment_lib.serving.served_log import latest_served, read_shadow
from sentiment_lib.workspace import Workspace

CANDIDATE_LIMIT = 50_000  # served texts considered at most per queue (the newest), to bound memory
SHADOW_LOOK_BACK = timedelta(hours=1)


@dataclass(frozen=True)
class QueueOutcome:
    path: Path | None  # None when nothing was chosen
    chosen: int
    considered: int
    by_reason: dict[str, int]

    def summary(self) -> str:
        if self.path is None:
            return f"labelling queue: nothing to ask ({self.considered} new served texts could be asked)"
        reasons = ", ".join(f"{n} {why}" for why, n in sorted(self.by_reason.items()))
        return f"labelling queue: {self.chosen} of {self.considered} new served texts in {self.path.name} ({reasons})"


def write_queue(ws: Workspace, cycle: str, verdict: dict | None) -> QueueOutcome:
    """Choose up to ``label_budget`` texts served since the last queue and write them for ``cycle``; the
    ``@challenger``'s answers on the same requests (the shadow log) give the disagreements.

    Raises:
        DataValidationError: the feedback store or an earlier queue file cannot be read.
        OSError: the queue or its state cannot be written.
    """
    settings = ws.settings
    after = read_json(ws.label_queue_state, {}).get("served_after", "")
    served = _served_after(ws.served_log, after)
    candidates = queue.candidates_from(served, _shadow_since(ws.shadow_log, after), _asked_before(ws))
    seed = f"{settings.seed}-{cycle}"  # a random queue differs from cycle to cycle, and reproduces
    ngrams = top_ngrams(verdict or {})
    chosen = queue.choose(
        candidates, settings.label_budget, settings.label_policy, ngrams, seed, settings.label_random_share
    )
    path = ws.to_label / f"{cycle}.csv" if chosen else None
    if path is not None:
        write_csv_atomic(queue.as_frame(chosen), path)
    if served:  # the queue is written before the mark moves: a crash in between offers the texts again
        write_json_atomic(ws.label_queue_state, {"served_after": served[-1]["time"]})
    return QueueOutcome(path, len(chosen), len(candidates), queue.reason_counts(c.why for c in chosen))


def _served_after(folder: Path, after: str) -> list[dict]:
    """The newest :data:`CANDIDATE_LIMIT` served records logged after ``after`` (an ISO time; "" = all)."""
    # the log writes every time in one ISO format, so text order is time order
    return latest_served(folder, CANDIDATE_LIMIT, _moment(after), keep=lambda r: r["time"] > after)


def _shadow_since(folder: Path, after: str) -> Iterator[dict]:
    """The challenger's answers from :data:`SHADOW_LOOK_BACK` before ``after`` on: the worker writes them
    later than the served log, so an answer to a text served just before the mark may be dated after it."""
    mark = _moment(after)
    return read_shadow(folder, mark - SHADOW_LOOK_BACK if mark else None)


def _moment(text: str) -> datetime | None:
    """An ISO time from the queue's state as a datetime; None for "" (no queue written yet)."""
    return datetime.fromisoformat(text) if text else None


def _asked_before(ws: Workspace) -> set[str]:
    """Texts already labelled (in the feedback store) or already in a queue."""
    labelled = set(feedback.read_store(ws.feedback_store)[TEXT_COLUMN])
    return labelled | set(queue.read_queues(ws.to_label)[TEXT_COLUMN])
