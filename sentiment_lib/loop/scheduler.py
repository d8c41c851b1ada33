"""The unattended loop: cycles on a ``schedule``, a clean stop on SIGINT/SIGTERM, and no crash escapes."""

from __future__ import annotations

import logging
import signal
import time
from collections.abc import Callable
from pathlib import Path

import schedule

from sentiment_lib.loop import heartbeat

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
    heartbeat_file: Path | None = None,
) -> int:
    """Run ``job`` now and then every ``every_seconds`` until ``stop`` or ``max_cycles``; return the count.

    ``schedule`` does not catch a job's exceptions, and an unattended loop must survive anything, so
    every exception of a cycle is logged here and the loop goes on. After each cycle, crashed or not,
    ``heartbeat_file`` (if given) records that the loop is alive (:mod:`sentiment_lib.loop.heartbeat`).
    """
    scheduler = schedule.Scheduler()
    done = 0

    def one_cycle() -> None:
        nonlocal done
        done += 1
        crashed = False
        try:
            job()
        except Exception:  # the loop's top level: log it with its traceback, keep going
            crashed = True
            log.exception("Cycle %d crashed; the loop goes on", done)
        if heartbeat_file is not None:
            _beat(heartbeat_file, every_seconds, done, crashed)

    scheduler.every(max(1, round(every_seconds))).seconds.do(one_cycle)
    one_cycle()  # the first cycle starts now, not one interval later
    while not stop() and (max_cycles is None or done < max_cycles):
        scheduler.run_pending()
        time.sleep(poll_seconds)
    log.info("Loop stopped after %d cycle(s)", done)
    return done


def _beat(path: Path, every_seconds: float, cycles: int, crashed: bool) -> None:
    try:
        heartbeat.beat(path, every_seconds, cycles, crashed)
    except OSError as err:  # a full disk must not stop the loop; the missing beat is what alerts
        log.error("Could not write the loop's heartbeat %s: %s", path, err)
