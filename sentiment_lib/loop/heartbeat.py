"""The loop's heartbeat: when its last cycle ended and how often it means to run (``state/heartbeat.json``).

The API exposes both in ``/metrics``, so an alert rule can tell a loop that stopped (a crashed service, a full
disk, a cycle stuck in a step) from one that is simply between cycles: no cycle for twice its interval.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path

from sentiment_lib.errors import DataValidationError
from sentiment_lib.io import read_json, write_json_atomic


@dataclass(frozen=True)
class Heartbeat:
    finished_at: float  # wall-clock seconds since the epoch (never a replay's simulated clock)
    interval_seconds: float
    cycles: int  # cycles since this loop process started
    crashed: bool  # the last cycle raised (the loop logged it and went on)


def beat(path: Path, interval_seconds: float, cycles: int, crashed: bool) -> None:
    write_json_atomic(path, asdict(Heartbeat(time.time(), interval_seconds, cycles, crashed)))


def read(path: Path) -> Heartbeat | None:
    """The last heartbeat, or None if no loop has run here (or the file is unreadable: no gauge beats a wrong one)."""
    try:
        data = read_json(path, None)
        if not isinstance(data, dict):
            return None
        # typed here: a hand-edited or foreign file must not break the scrape that reads it
        return Heartbeat(
            float(data["finished_at"]), float(data["interval_seconds"]), int(data["cycles"]), bool(data["crashed"])
        )
    except (KeyError, TypeError, ValueError, OSError, DataValidationError):
        return None
