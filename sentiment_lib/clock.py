"""The loop's notion of time: the wall clock, or a simulated one that a replay moves on by a fixed step.

Everything the loop dates takes its ``now`` from one clock: feedback arrival, a version's training time
(the ``trained_at`` tag), ages, alert cooldowns, retrain guardrails and the events on the history plot.
So a replay of 14 simulated days behaves as 14 days would, in minutes. The API's served log keeps the
wall clock: it is read against the registry's own (wall-clock) registration time of a version.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sentiment_lib.errors import ConfigError


def wall_now() -> datetime:
    return datetime.now(UTC)


def as_text(moment: datetime) -> str:
    """ISO 8601 to the second, with its UTC offset: how moments are stored in state, tags and parameters."""
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def parse_moment(text: str, name: str = "now") -> datetime:
    """``text`` as an aware datetime (naive means UTC); an empty string means the wall clock's now.

    Raises:
        ConfigError: ``text`` is not an ISO 8601 date and time.
    """
    if not text:
        return wall_now()
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"{name} must be an ISO 8601 time such as 2026-11-30T12:00:00+00:00, got {text!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass
class SimulatedClock:
    """A clock that stands still until :meth:`advance` moves it on by ``step``."""

    current: datetime
    step: timedelta

    def now(self) -> datetime:
        return self.current

    def advance(self) -> datetime:
        self.current += self.step
        return self.current


class WallClock:
    """The real clock, with the same face as :class:`SimulatedClock` (advancing it does nothing)."""

    def now(self) -> datetime:
        return wall_now()

    def advance(self) -> datetime:
        return wall_now()
