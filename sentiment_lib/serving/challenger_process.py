"""The shadow challenger in a process of its own, on CPU time the champion does not want.

In the API's process the challenger shared the interpreter's lock with the champion's request threads, and a
niced thread holding it held them up: at the default share it added 33 ms to ``/predict`` p99 at 16 clients on 2
cores (docs/serving.md). Here a spawned child loads the version (through the registry, as the API loads its
champion: same back-end and threads settings, which it inherits from the environment), warms it up, then puts
all its threads in Linux's idle scheduling class (``cpu="idle"``: they run only when no other thread wants the
CPU) or at nice 19 (``cpu="low"``: a small share even of a saturated CPU). It answers batches over a pipe.
In the idle class the default share moved the champion's p99 by +4 ms (-8 to +28 over 10 paired rounds), within
the noise.

:class:`ChallengerProcess` is that child seen from the API: a predictor (``predict``, ``backend_name``) the shadow
worker calls like any other. A child that died, or whose model raised, makes ``predict`` raise
:class:`~sentiment_lib.errors.ModelError` (the worker counts the texts as failed); ``alive`` tells the
challenger's holder to start another at its next refresh. The child ends when its pipe closes, so it does not
outlive an API that was killed.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from sentiment_lib.errors import ModelError
from sentiment_lib.inference.predictor import Predictions
from sentiment_lib.settings.serving import ShadowCpu

log = logging.getLogger(__name__)

LOWEST_NICE = 19
POLL_SECONDS = 0.25  # how often a wait for the child looks whether it is still alive, or told to stop
CLOSE_SECONDS = 10.0  # how long close() lets the batch being scored finish before the child is killed


@dataclass(frozen=True)
class Failed:
    """The child's answer when loading or a batch raised: the error's text (its type is the child's business)."""

    error: str


@dataclass(frozen=True)
class Ready:
    """The child's first answer: the model is loaded and warmed up, and how its threads are scheduled."""

    backend_name: str
    scheduling: str  # "idle class", "nice 19", or why neither could be set


class Stopped(ModelError):
    """The challenger's process was ended on purpose (the API closing, another challenger): not its failure."""


class ChallengerProcess:
    """A spawned child serving one registered version's predictions."""

    def __init__(self, process: Any, connection: Connection, ready: Ready):
        self.process = process
        self.backend_name, self.scheduling = ready.backend_name, ready.scheduling
        self._connection = connection
        self._call = threading.Lock()  # one batch at a time on the pipe; close() waits for it

    @classmethod
    def start(
        cls, workspace: str | Path, registered_name: str, version: str, cpu: ShadowCpu, stop: threading.Event
    ) -> ChallengerProcess:
        """Start the child, and wait until it has loaded ``version`` (or ``stop`` is set).

        Raises:
            ModelError: the version does not load in the child, or the child died.
            Stopped: ``stop`` was set (the child is killed at once: a half-loaded model is worth nothing).
        """
        context = multiprocessing.get_context("spawn")  # fork would copy the API's threads' locks mid-use
        ours, theirs = context.Pipe()
        process = context.Process(
            target=serve_challenger,
            args=(theirs, str(workspace), registered_name, version, cpu),
            name=f"challenger-{version}",
            daemon=True,  # ended with the API at a normal exit; a killed API closes the pipe, which ends it too
        )
        process.start()
        theirs.close()
        try:
            ready = _wait_for_answer(ours, process, stop)
        except BaseException:
            _kill(process, ours)
            raise
        if isinstance(ready, Failed):
            _end(process, ours, CLOSE_SECONDS)
            raise ModelError(ready.error)
        return cls(process, ours, ready)

    @property
    def alive(self) -> bool:
        return self.process.is_alive()

    def why_ended(self) -> str:
        """How the child ended (its exit code, or the signal that killed it)."""
        return _gone(self.process)

    def predict(self, texts: Sequence[str]) -> Predictions:
        """The challenger's answers to ``texts``.

        Raises:
            ModelError: the challenger raised (its message), or its process is gone.
            Stopped: :meth:`close` was called.
        """
        with self._call:
            if self._connection.closed:
                raise Stopped("the challenger's process was stopped")
            try:
                self._connection.send(list(texts))
            except OSError:  # a broken pipe: the child is gone
                raise ModelError(_gone(self.process)) from None
            answer = _wait_for_answer(self._connection, self.process, None)
        if isinstance(answer, Failed):
            raise ModelError(answer.error)
        return answer

    def close(self, timeout: float = CLOSE_SECONDS) -> None:
        """End the child after the batch it is scoring; within ``timeout`` in all, else it is killed."""
        deadline = time.monotonic() + timeout
        if not self._call.acquire(timeout=timeout):
            self.process.kill()  # the waiting predict sees it gone and lets go of the pipe
            with self._call:
                self._connection.close()
            self.process.join(1)
            return
        try:
            _end(self.process, self._connection, max(0.0, deadline - time.monotonic()))
        finally:
            self._call.release()


def _wait_for_answer(connection: Connection, process: Any, stop: threading.Event | None) -> Any:
    """The child's next message; waits as long as the child lives (an idle-class child on a busy CPU is slow,
    not broken).

    Raises:
        ModelError: the child died.
        Stopped: ``stop`` was set.
    """
    while not connection.poll(POLL_SECONDS):
        if not process.is_alive():
            break  # anything it sent before dying is still read below
        if stop is not None and stop.is_set():
            raise Stopped("stopped while the challenger was loading")
    try:
        return connection.recv()
    except (EOFError, OSError):
        raise ModelError(_gone(process)) from None


def _gone(process: Any) -> str:
    process.join(1)
    code = process.exitcode
    if code is not None and code < 0:
        name = signal.Signals(-code).name if -code in signal.valid_signals() else f"signal {-code}"
        hint = " (the kernel kills the largest process when memory runs out)" if -code == signal.SIGKILL else ""
        return f"the challenger's process was killed by {name}{hint}"
    return f"the challenger's process ended (exit code {code})"


def _end(process: Any, connection: Connection, timeout: float) -> None:
    """Close the pipe (the child's cue to exit), wait up to ``timeout`` for the child, then kill it."""
    connection.close()
    process.join(timeout)
    if process.is_alive():
        _kill(process, connection)


def _kill(process: Any, connection: Connection) -> None:
    process.kill()
    process.join(1)
    connection.close()


def serve_challenger(
    connection: Connection, workspace: str, registered_name: str, version: str, cpu: ShadowCpu
) -> None:
    """The child: load ``version``, say :class:`Ready` (or :class:`Failed`), then answer each list of texts with
    :class:`Predictions` or :class:`Failed` until the pipe closes."""
    from sentiment_lib.serving.model_holder import warm_up  # the child's imports: after spawn, not at the API's
    from sentiment_lib.tracking import registry, runs

    # the API stops it by closing the pipe (after the batch it is scoring); Ctrl-C reaches the whole process
    # group and must not cut that batch short, and a SIGTERM the API ignores while closing must still end it
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    volunteer_for_the_oom_killer()
    lower_every_thread("low")  # loading too yields to the champion
    try:
        runs.configure_client(workspace)
        predictor = registry.load_served_model(registered_name, version=version).predictor
        warm_up(predictor)
    except Exception as err:
        _send(connection, Failed(_describe(err)))
        return
    scheduling = lower_every_thread(cpu)
    if not _send(connection, Ready(predictor.backend_name, scheduling)):
        return
    while True:
        try:
            texts = connection.recv()
        except (EOFError, OSError):  # the API closed the pipe, or is gone
            return
        try:
            answer: Any = predictor.predict(texts)
        except Exception as err:  # the challenger's own failure: told to the API, which counts it
            answer = Failed(_describe(err))
        if not _send(connection, answer):
            return


def _send(connection: Connection, message: Any) -> bool:
    """Send ``message``; False when the API is gone."""
    try:
        connection.send(message)
    except OSError:
        return False
    return True


def _describe(err: Exception) -> str:
    return f"{type(err).__name__}: {err}" if str(err) else type(err).__name__


def volunteer_for_the_oom_killer() -> None:
    """When memory runs out, the kernel should end this process before the API that serves the champion."""
    with contextlib.suppress(OSError):  # not Linux, or not allowed: the kernel chooses as it would
        Path("/proc/self/oom_score_adj").write_text("1000")


def lower_every_thread(cpu: ShadowCpu) -> str:
    """Put each thread of this process at nice 19 and (``cpu="idle"``) in the idle scheduling class: the threads
    started at import (numpy's) and while loading (the model's pool) as well; threads started later inherit it.
    Returns what was applied ("idle class", "nice 19", or why not)."""
    threads = [int(thread) for thread in os.listdir("/proc/self/task")] if os.path.isdir("/proc/self/task") else [0]
    applied = "idle class" if cpu == "idle" else f"nice {LOWEST_NICE}"
    for thread in threads:
        try:
            os.setpriority(os.PRIO_PROCESS, thread, LOWEST_NICE)
            if cpu == "idle":
                os.sched_setscheduler(thread, os.SCHED_IDLE, os.sched_param(0))
        except ProcessLookupError:  # a thread that ended meanwhile
            continue
        except (OSError, AttributeError) as err:  # refused by the system, or a system without it
            applied = f"not lowered as asked ({cpu}): {err}"
    return applied
