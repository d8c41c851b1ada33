"""The unattended loop: cycles on a ``schedule``, a clean stop on SIGINT/SIGTERM, and no crash escapes."""

from __future__ import annotations

import logging
import signal
import time
from collections.abc import Callable

import schedule

log = logging.getLogger(__name__)


class StopSignal:
    """Set by SIGINT or SIGTERM: the loop finishes the current step, then stops. A second Ctrl-C aborts."""

    def __init__(self) -> None:
        self.requested = False

    def install(self) -> StopSignal:
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, self._handle)
        return self

    def _handle(self, signum: int, frame: object) -> None:
        if self.requested and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.requested = True
        log.warning("%s received: stopping after the current step (Ctrl-C again to abort)", signal.Signals(signum).name)

    def __call__(self) -> bool:
        return self.requested


def run_loop(
    job: Callable[[], None],
    every_seconds: float,
    stop: StopSignal,
    max_cycles: int | None = None,
    poll_seconds: float = 1.0,
) -> int:
    """Run ``job`` now and then every ``every_seconds`` until ``stop`` or ``max_cycles``; return the count.

    ``schedule`` does not catch a job's exceptions, and an unattended loop must survive anything, so
    every exception of a cycle is logged here and the loop goes on.
    """
    scheduler = schedule.Scheduler()
    done = 0

    def one_cycle() -> None:
        nonlocal done
        done += 1
        try:
            job()
        except Exception:  # the loop's top level: log it with its traceback, keep going
            log.exception("Cycle %d crashed; the loop goes on", done)

    scheduler.every(max(1, round(every_seconds))).seconds.do(one_cycle)
    one_cycle()  # the first cycle starts now, not one interval later
    while not stop() and (max_cycles is None or done < max_cycles):
        scheduler.run_pending()
        time.sleep(poll_seconds)
    log.info("Loop stopped after %d cycle(s)", done)
    return done
