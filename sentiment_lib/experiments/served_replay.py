"""A replay through the running API, start to end: ``runner.py replay --serve URL`` calls :func:`run_served_replay`.

The parts are in :mod:`sentiment_lib.experiments.adaptation` (one simulated day: :class:`ServedReplay`, the
final scores), :mod:`sentiment_lib.experiments.adaptation_report` (the tables) and
:mod:`sentiment_lib.loop.replay` (the stream); this module runs the days on the loop's schedule and writes the
summary.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from sentiment_lib.clock import SimulatedClock, WallClock
from sentiment_lib.experiments import adaptation, adaptation_report
from sentiment_lib.experiments.adaptation import DayRecord, ServedReplay
from sentiment_lib.locking import WorkspaceBusyError
from sentiment_lib.loop.cycle import Cycle
from sentiment_lib.loop.replay import Replay
from sentiment_lib.loop.scheduler import StopSignal, run_loop
from sentiment_lib.serving.client import ApiClient

log = logging.getLogger(__name__)


def run_served_replay(
    cycle: Cycle,
    replay: Replay,
    url: str,
    clock: SimulatedClock | WallClock,
    stop: StopSignal,
    cycles: int,
    every_seconds: float = 0.0,
    on_day: Callable[[DayRecord], None] = lambda record: None,
) -> str:
    """Replay ``cycles`` days through the API at ``url``, then score the first and last champion on the
    stream's final slice (when the replay keeps one); return the summary, also written to
    ``reports/replay/adaptation.md``.

    A day the workspace is busy for is replayed at the next cycle; ``on_day`` hears of each day replayed.

    Raises:
        ModelError: no champion to serve.
        ServingUnavailableError: nothing answers at ``url``.
    """
    served = ServedReplay(cycle, replay, ApiClient(url), clock)
    first, before = served.first_champion(), served.newest_before()
    served.client.health()  # no API at all: say so now rather than once per cycle
    run_loop(_one_day(served, on_day), every_seconds, stop, max(cycles, 1))
    return _summary(served, first, before)


def _one_day(served: ServedReplay, on_day: Callable[[DayRecord], None]) -> Callable[[], None]:
    def one_day() -> None:
        try:
            record = served.run_one()
        except WorkspaceBusyError as err:
            log.warning("%s; the day is replayed at the next cycle", err)
            return
        if record is None:
            log.info("Replay: the stream is used up")
            return
        on_day(record)

    return one_day


def _summary(served: ServedReplay, first: str, before: str) -> str:
    text = adaptation_report.day_table(served.records)
    adaptation_report.write_summary(served.ws, text)  # kept even if scoring the final slice fails
    holdout = served.replay.holdout
    if len(holdout):
        newest = served.newest_trained(before)
        versions = [first, served.champion(), *([newest] if newest else [])]
        scores, p_value = adaptation.final_scores(served.ws, versions, holdout)
        text += "\n\n" + adaptation_report.summary_text(served.records, scores, p_value, len(holdout))
        adaptation_report.write_final_scores(served.ws, served.records, scores, p_value, len(holdout))
    adaptation_report.write_summary(served.ws, text)
    return text
