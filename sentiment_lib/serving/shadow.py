"""Shadow scoring: the ``@challenger`` answers a sampled share of live texts too, off the request path.

Every registered version gets ``@challenger``; while it names another version than the champion served,
:class:`ChallengerHolder` runs it beside the champion, in a child process of its own (the same back-end, on CPU
time the champion leaves: ``shadow_cpu``, see ``challenger_process``). A request thread only samples its texts
and puts them, without waiting, on a bounded queue (:meth:`ShadowScorer.offer`); a full queue drops the text and
counts it. One worker thread takes what is queued, hands it to the challenger's process, compares its answers
with the champion's, writes them to the shadow log (one JSON line per text,
:func:`~sentiment_lib.serving.served_log.read_shadow` reads them) and counts scored texts, agreements and
failures for ``/metrics``, ``/health`` and the status page. A challenger that is slow (or starved of CPU) only
fills the queue; one that raises, or whose process dies, is counted (a dead process is started again at the next
refresh); one that fails to load is logged and shadowing waits until one loads. None of it can fail an answer
or make it wait for the challenger; what it costs the champion's latency is measured in docs/serving.md.
"""

from __future__ import annotations

import logging
import os
import queue
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from sentiment_lib.errors import RegistryUnavailableError
from sentiment_lib.monitoring.checks.shadow import DISAGREEMENTS_SHOWN, Agreement, ShadowTally
from sentiment_lib.serving.challenger_process import CLOSE_SECONDS, ChallengerProcess, Stopped
from sentiment_lib.serving.model_holder import LoadedModel, ModelHolder, loaded_model
from sentiment_lib.serving.served_log import ServedLog, text_ids
from sentiment_lib.settings import CHALLENGER
from sentiment_lib.settings.serving import ShadowCpu
from sentiment_lib.tracking import registry

log = logging.getLogger(__name__)

MAX_BATCH = 32  # texts per challenger call at most
MAX_RESTARTS = 3  # of a challenger's process that died, before its version counts as failed
NICE_INCREMENT = 10  # the challenger's threads yield the CPU to the champion's requests


class ShadowObserver(Protocol):
    """Told what the worker did (``ApiMetrics`` is one)."""

    def observe_shadow(self, challenger_version: str, scored: int, agreed: int) -> None: ...

    def observe_shadow_dropped(self, challenger_version: str) -> None: ...

    def observe_shadow_failed(self, challenger_version: str, texts: int) -> None: ...


def lower_priority() -> None:
    """Lower the calling thread's CPU priority by :data:`NICE_INCREMENT` (the shadow worker's and the watcher's:
    the challenger's own process lowers itself further, see ``challenger_process``). Linux sets it per thread;
    elsewhere, or when the system refuses, nothing changes."""
    try:
        thread = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, thread, os.getpriority(os.PRIO_PROCESS, thread) + NICE_INCREMENT)
    except (OSError, AttributeError) as err:  # AttributeError: a platform without setpriority
        log.info("The challenger runs at normal priority: %s", err)


class ChallengerHolder(ModelHolder):
    """Follows ``@challenger`` while it names another version than ``champion`` serves, in a process of its own
    (:class:`~sentiment_lib.serving.challenger_process.ChallengerProcess`); otherwise runs none (no second copy
    of the champion, and the process of a promoted or withdrawn challenger ends)."""

    def __init__(
        self,
        registered_name: str,
        champion: ModelHolder,
        workspace: str | Path = ".",
        cpu: ShadowCpu = "idle",
        alias: str = CHALLENGER,
    ):
        super().__init__(registered_name, alias)
        self.champion = champion
        self.workspace, self.cpu = workspace, cpu
        self.last_error = ""
        self._process: ChallengerProcess | None = None
        self._failed_version = ""  # a version that would not load is tried again only once the alias moves
        self._trying = ""
        self._restarts = 0  # of the current version's process, after it died

    def refresh(self) -> bool:
        """Load the challenger if it changed; return True if a new one was loaded.

        Never raises: a failure is logged and kept in ``last_error``; shadowing is off until ``@challenger``
        names another version (a version that failed is not downloaded again at every refresh).
        """
        if not self._loading.acquire(blocking=False):
            return False
        try:
            return self._follow()
        except RegistryUnavailableError as err:  # the registry is down: keep the challenger there is
            self.last_error = str(err)
            log.warning("Shadow scoring: %s", err)
            return False
        except Exception as err:  # a challenger that fails to load must not take anything else down
            if self._stop.is_set():
                return False  # the API is closing: the load was given up, not failed
            self.current, self._failed_version = None, self._trying
            self.last_error = f"loading @{self.alias} (version {self._trying}) failed: {err}"
            log.error("%s; shadow scoring is off until @%s names another version", self.last_error, self.alias)
            return False
        finally:
            self._loading.release()

    def _follow(self) -> bool:
        version = registry.version_for_alias(self.registered_name, self.alias)
        champion = self.champion.current
        if version is None or champion is None or str(version.version) == champion.version:
            if self.current is not None:
                log.info("Shadow scoring of version %s stops: it is not a challenger beside the champion any more",
                         self.current.version)  # fmt: skip
            self._retire()
            self.last_error = ""
            return False
        if self.current is not None and self.current.version == str(version.version):
            if self._process is None or self._process.alive:
                return False
            if not self._may_restart():
                return False
        elif str(version.version) == self._failed_version:  # not every refresh: it would download it again
            return False
        else:
            self._restarts = 0
        self._trying = str(version.version)
        self._retire()  # the old challenger goes before the next loads: two models, not three
        if self._stop.is_set():
            return False
        process = ChallengerProcess.start(self.workspace, self.registered_name, self._trying, self.cpu, self._stop)
        try:
            self.current, self.last_error = loaded_model(version, process), ""
        except BaseException:
            process.close(0)
            raise
        self._process = process
        log.info("Shadow scoring with @%s version %s beside champion %s (process %d, %s)", self.alias,
                 self._trying, champion.version, process.process.pid, process.scheduling)  # fmt: skip
        return True

    def _may_restart(self) -> bool:
        """Whether the current version's dead process is started again: up to :data:`MAX_RESTARTS` times, then
        the version counts as one that failed (a model killed for its memory at each batch would be loaded
        forever)."""
        assert self._process is not None and self.current is not None
        died = f"version {self.current.version}: {self._process.why_ended()}"
        if self._restarts >= MAX_RESTARTS:
            self._failed_version = self.current.version
            self._retire()
            self.last_error = f"{died}, after {MAX_RESTARTS} restarts"
            log.error("%s; shadow scoring is off until @%s names another version", self.last_error, self.alias)
            return False
        self._restarts += 1
        log.warning("%s; starting another (restart %d of %d)", died, self._restarts, MAX_RESTARTS)
        return True

    def _retire(self, timeout: float = CLOSE_SECONDS) -> None:
        """Stop shadowing with the current challenger and end its process (after the batch it is scoring, if that
        ends within ``timeout``)."""
        process, self._process, self.current = self._process, None, None
        if process is not None:
            process.close(timeout)

    def stop(self, timeout: float = CLOSE_SECONDS) -> None:
        """Stop following ``@challenger`` and end the challenger's process, within about ``timeout``."""
        deadline = time.monotonic() + timeout
        super().stop()
        # a load under way sees the stop within a quarter second and kills its half-loaded child
        loading = self._loading.acquire(timeout=min(timeout, 2.0))
        try:
            self._retire(max(0.0, deadline - time.monotonic()))
        finally:
            if loading:
                self._loading.release()

    def start(self, interval_seconds: float) -> threading.Thread:
        """Load the challenger in a daemon thread of lower priority, then refresh every ``interval_seconds`` (0:
        once) until :meth:`stop`. Serving never waits for it."""

        def run() -> None:
            lower_priority()
            self.refresh()
            while interval_seconds > 0 and not self._stop.wait(interval_seconds):
                self.refresh()

        thread = threading.Thread(target=run, name=f"{self.alias}-watcher", daemon=True)
        thread.start()
        return thread


@dataclass(frozen=True)
class ShadowItem:
    """One served text waiting for the challenger, with the champion's answer."""

    time: str
    request_id: str
    text: str
    champion_version: str
    champion_sentiment: str
    champion_confidence: float


@dataclass(frozen=True)
class ShadowState:
    """A snapshot for ``/health`` and the status page."""

    share: float
    challenger_version: str | None
    champion_version: str | None
    queue_length: int
    dropped: int
    failed: int
    last_error: str
    agreement: Agreement | None = None  # the current pair's, in this process (None: no pair)
    disagreements: list[dict[str, Any]] = field(default_factory=list)  # the current pair's surest, as logged


class ShadowScorer:
    """The bounded queue and the one worker thread that scores its texts with the challenger."""

    def __init__(
        self,
        challenger: ChallengerHolder,
        share: float,
        queue_size: int,
        shadow_log: ServedLog | None = None,
        observer: ShadowObserver | None = None,
        sample: Callable[[], float] = random.random,
        max_batch: int = MAX_BATCH,
    ):
        self.challenger = challenger
        self.share = share
        self.shadow_log = shadow_log  # None: answers counted, texts not written (log_inputs off)
        self.observer = observer
        self.max_batch = max_batch
        self._sample = sample
        self._queue: queue.Queue[ShadowItem] = queue.Queue(maxsize=queue_size)
        self._lock = threading.Lock()  # the counts and tallies: request threads and the worker update them
        self._idle = threading.Condition(self._lock)
        self._pending = 0  # texts queued or being scored
        self.dropped = 0
        self.failed = 0
        self._tally = ShadowTally(DISAGREEMENTS_SHOWN)
        self._failing: set[str] = set()  # challenger versions whose failure was logged (once each)
        self._stop = threading.Event()
        self._worker = threading.Thread(target=self._run, name="shadow-scorer", daemon=True)
        self._worker.start()

    def offer(
        self,
        texts: Sequence[str],
        labels: Sequence[str],
        confidences: Sequence[Any],
        champion_version: str,
        request_id: str,
    ) -> int:
        """Queue a sampled share of a request's texts for the challenger, without waiting; return how many.

        Called from the request thread: it never blocks (a full queue drops the text and counts it).
        """
        challenger = self.challenger.current
        if challenger is None or challenger.version == champion_version:
            return 0
        stamp = datetime.now(UTC).isoformat(timespec="milliseconds")
        queued = 0
        for text, label, confidence, text_id in zip(texts, labels, confidences, text_ids(request_id, len(texts)),
                                                    strict=True):  # fmt: skip
            if self._sample() >= self.share:
                continue
            item = ShadowItem(stamp, text_id, text, champion_version, label, round(float(confidence), 6))
            with self._lock:
                try:
                    self._queue.put_nowait(item)
                except queue.Full:
                    dropped = True
                else:
                    self._pending += 1
                    dropped = False
            if dropped:
                self._count_dropped(challenger.version, 1)
            else:
                queued += 1
        return queued

    def state(self) -> ShadowState:
        """What the worker has done so far, and the current challenger's agreement with the champion."""
        challenger, served = self.challenger.current, self.challenger.champion.current
        with self._lock:
            tally = self._tally.pair(served.version, challenger.version) if challenger and served else None
            return ShadowState(
                share=self.share,
                challenger_version=challenger.version if challenger else None,
                champion_version=served.version if served else None,
                queue_length=self._queue.qsize(),
                dropped=self.dropped,
                failed=self.failed,
                last_error=self.challenger.last_error,
                agreement=tally.agreement if tally else None,
                disagreements=tally.disagreements() if tally else [],
            )

    def health(self) -> dict[str, Any]:
        """The fields ``/health`` adds: the challenger shadowed, the queue, drops and failures, and failed writes of
        the shadow log (when there were any); nothing while no challenger is shadowed and nothing went wrong."""
        now = self.state()
        log_failures = self.shadow_log.failures if self.shadow_log is not None else 0
        if not (now.challenger_version or now.dropped or now.failed or log_failures):
            return {}
        found: dict[str, Any] = {"shadow_challenger_version": now.challenger_version} if now.challenger_version else {}
        found.update(shadow_queue_length=now.queue_length, shadow_dropped=now.dropped, shadow_failed=now.failed)
        if log_failures:
            found["shadow_log_failures"] = log_failures
        return found

    def wait_idle(self, timeout: float) -> bool:
        """Wait until every queued text is scored (or dropped by a failure); False if ``timeout`` passes first."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout)

    @property
    def running(self) -> bool:
        """Whether the worker thread is still alive."""
        return self._worker.is_alive()

    def stop(self) -> None:
        """End the worker after the batch it is scoring (texts still queued are not scored)."""
        self._stop.set()

    def close(self, timeout: float = 5.0) -> None:
        """Stop the worker, the challenger's watcher and its process, waiting up to about ``timeout`` in all for the
        batch being scored (its lines are written before the process goes; past that, its texts count as
        dropped)."""
        deadline = time.monotonic() + timeout
        self.stop()
        self.challenger.stop(timeout)
        self._worker.join(max(0.0, deadline - time.monotonic()))

    def _run(self) -> None:
        lower_priority()
        while not self._stop.is_set():
            batch = self._next_batch()
            if not batch:
                continue
            try:
                self._score(batch)
            except Exception:  # the worker must survive anything: a dead worker would end shadowing silently
                log.exception("Shadow scoring of %d text(s) failed", len(batch))
            finally:
                with self._idle:
                    self._pending -= len(batch)
                    self._idle.notify_all()

    def _next_batch(self) -> list[ShadowItem]:
        """The first waiting text (waiting at most a quarter second, to notice :meth:`stop`) and those behind it."""
        try:
            batch = [self._queue.get(timeout=0.25)]
        except queue.Empty:
            return []
        while len(batch) < self.max_batch:
            try:
                batch.append(self._queue.get_nowait())
            except queue.Empty:
                break
        return batch

    def _score(self, batch: list[ShadowItem]) -> None:
        challenger = self.challenger.current
        if challenger is None:
            return  # promoted or withdrawn meanwhile: nothing left to compare
        batch = [item for item in batch if item.champion_version != challenger.version]
        if not batch:
            return
        try:
            answers = challenger.predictor.predict([item.text for item in batch])
        except Exception as err:
            if isinstance(err, Stopped) or self.challenger.current is not challenger or self._stop.is_set():
                self._count_dropped(challenger.version, len(batch))  # ended on purpose: not its failure
            else:  # the challenger's own failure: counted, never the champion's business
                self._count_failure(challenger.version, len(batch), err)
            return
        records = [
            _record(item, challenger, label, float(confidence))
            for item, label, confidence in zip(batch, answers.labels, answers.confidences, strict=True)
        ]
        if self.shadow_log is not None:  # the log first: whoever sees a count finds its lines written
            self.shadow_log.append(records)
        agreed = self._count(records)
        if self.observer is not None:
            self.observer.observe_shadow(challenger.version, len(records), agreed)

    def _count(self, records: list[dict[str, Any]]) -> int:
        with self._lock:
            return sum(self._tally.add(record) for record in records)

    def _count_dropped(self, version: str, texts: int) -> None:
        with self._lock:
            self.dropped += texts
        if self.observer is not None:
            for _ in range(texts):
                self.observer.observe_shadow_dropped(version)

    def _count_failure(self, version: str, texts: int, err: Exception) -> None:
        with self._lock:
            self.failed += texts
            first = version not in self._failing
            self._failing.add(version)
        if first:  # said once per version; the count goes on in /metrics and /health
            log.warning("The challenger (version %s) failed on shadow texts; they are counted, answers are not "
                        "affected: %s", version, err)  # fmt: skip
        if self.observer is not None:
            self.observer.observe_shadow_failed(version, texts)


def _record(item: ShadowItem, challenger: LoadedModel, label: str, confidence: float) -> dict[str, Any]:
    """One line of the shadow log: the contract the labelling queue reads."""
    return {
        "time": item.time,
        "request_id": item.request_id,
        "text": item.text,
        "champion_version": item.champion_version,
        "champion_sentiment": item.champion_sentiment,
        "champion_confidence": item.champion_confidence,
        "challenger_version": challenger.version,
        "challenger_sentiment": label,
        "challenger_confidence": round(confidence, 6),
    }
