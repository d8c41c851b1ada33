"""Keep the serving model current and fast: follow ``@champion``, swap without dropping requests, micro-batch.

A request reads ``ModelHolder.current`` once and uses that snapshot to the end, so a swap (one attribute
assignment, atomic in CPython) never changes the model under a request in flight.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sentiment_lib.errors import ModelError
from sentiment_lib.inference.predictor import Predictions, SentimentPredictor
from sentiment_lib.settings import CHAMPION
from sentiment_lib.tracking import registry

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoadedModel:
    """A registered version, loaded and ready to predict."""

    predictor: SentimentPredictor
    version: str
    run_id: str
    registered_at: str
    tags: dict[str, str] = field(default_factory=dict)
    card: str = ""  # the model card (the version's description in the registry), Markdown

    def describe(self) -> dict[str, Any]:
        layers = self.tags.get(registry.ENCODER_LAYERS_TAG)
        metrics = {k: float(v) for k, v in self.tags.items() if _is_number(v) and k != registry.ENCODER_LAYERS_TAG}
        return {
            "model_version": self.version,
            "run_id": self.run_id,
            "registered_at": self.registered_at,
            "backend": self.predictor.backend_name,
            "encoder_layers": int(layers) if layers else None,
            "metrics": metrics,
            "model_card": "/model/card" if self.card else None,
        }


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def load_version(registered_name: str, version: Any) -> LoadedModel:
    """Load one registered version (by number, so an alias moving meanwhile cannot mix two versions).

    Raises:
        ModelError: the version does not load.
    """
    served = registry.load_served_model(registered_name, version=str(version.version))
    return loaded_model(version, served.predictor)


def loaded_model(version: Any, predictor: Any) -> LoadedModel:
    """``predictor`` as the registered ``version`` (a ``ModelVersion``): its number, run, date, tags and card."""
    created = datetime.fromtimestamp(version.creation_timestamp / 1000, UTC).isoformat(timespec="seconds")
    tags, card = dict(version.tags), version.description or ""
    return LoadedModel(predictor, str(version.version), version.run_id, created, tags, card)


WARM_UP_WORDS = (1, 8, 32, 96)  # the lengths of the texts a new model is warmed up on, one call each


def warm_up(predictor: SentimentPredictor) -> None:
    """Call ``predictor`` once per length of :data:`WARM_UP_WORDS` (texts of the word "word").

    Raises:
        Exception: whatever the predictor raises.
    """
    # The first call of each input shape allocates buffers; pay that before taking traffic.
    for words in WARM_UP_WORDS:
        predictor.predict([" ".join(["word"] * words)] * 2)


class ModelHolder:
    """Follows ``<name>@<alias>`` in the registry and swaps in each new version once it is loaded."""

    def __init__(self, registered_name: str, alias: str = CHAMPION):
        self.registered_name = registered_name
        self.alias = alias
        self.current: LoadedModel | None = None
        self.last_error = "no model loaded yet"
        self._loading = threading.Lock()
        self._stop = threading.Event()

    def refresh(self) -> bool:
        """Load the alias's version if it differs from the one serving; return True if it swapped.

        Never raises: a failure is logged and kept in ``last_error`` while the current model keeps serving.
        """
        if not self._loading.acquire(blocking=False):
            return False  # another refresh is already loading
        try:
            version = registry.version_for_alias(self.registered_name, self.alias)
            if version is None:
                self.last_error = f"no version of {self.registered_name!r} has alias @{self.alias}"
                return False
            if self.current is not None and self.current.version == str(version.version):
                return False
            loaded = load_version(self.registered_name, version)
            warm_up(loaded.predictor)
            self.current = loaded  # the swap: requests already running keep their own snapshot
            self.last_error = ""
            log.info("Serving %s version %s", self.registered_name, loaded.version)
            return True
        except Exception as err:  # a model that fails to load must not take the serving one down
            self.last_error = f"loading @{self.alias} failed: {err}"
            log.error("%s", self.last_error)
            return False
        finally:
            self._loading.release()

    def watch(self, interval_seconds: float) -> threading.Thread:
        """Refresh every ``interval_seconds`` in a daemon thread until :meth:`stop`."""

        def loop() -> None:
            while not self._stop.wait(interval_seconds):
                self.refresh()

        thread = threading.Thread(target=loop, name=f"{self.alias}-watcher", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self._stop.set()


@dataclass
class _Request:
    text: str
    future: Future = field(default_factory=Future)


class MicroBatcher:
    """Groups concurrent single predictions into one batch per model call.

    One worker thread takes the first waiting request and everything queued behind it (up to
    ``max_batch``) without waiting further: a lone request pays no delay, concurrent ones share a call.
    A caller waits at most ``timeout_seconds``; :meth:`stuck_seconds` tells /health when a model call hangs.
    """

    def __init__(
        self,
        holder: ModelHolder,
        timeout_seconds: float = 30.0,
        max_batch: int = 32,
        on_batch: Callable[[int], None] | None = None,
    ):
        self.holder = holder
        self.max_batch = max_batch
        self.timeout_seconds = timeout_seconds
        self.on_batch = on_batch  # told each model call's batch size (the /metrics histogram)
        self._queue: queue.Queue[_Request] = queue.Queue()
        self._batch_started: float | None = None  # monotonic time the running model call began
        self._worker = threading.Thread(target=self._run, name="micro-batcher", daemon=True)
        self._worker.start()

    def predict(self, text: str) -> tuple[str, float, str]:
        """Label, confidence and the model version that answered (the snapshot at batch time).

        Raises:
            TimeoutError: no answer within ``timeout_seconds`` (the request is dropped when its turn comes).
        """
        request = _Request(text)
        self._queue.put(request)
        try:
            return request.future.result(timeout=self.timeout_seconds)
        except FutureTimeout:
            request.future.cancel()
            raise TimeoutError(f"the model gave no answer within {self.timeout_seconds:g} s") from None

    def stuck_seconds(self) -> float:
        """How long the running model call has taken (0 when idle; infinite when the worker is gone)."""
        if not self._worker.is_alive():
            return float("inf")
        started = self._batch_started
        return 0.0 if started is None else time.monotonic() - started

    def _run(self) -> None:
        while True:
            batch = [self._queue.get()]
            while len(batch) < self.max_batch:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            # a request whose caller gave up is not worth a model call
            batch = [r for r in batch if r.future.set_running_or_notify_cancel()]
            if batch:
                if self.on_batch is not None:
                    self.on_batch(len(batch))
                self._batch_started = time.monotonic()
                self._answer(batch)
                self._batch_started = None

    def _answer(self, batch: list[_Request]) -> None:
        model = self.holder.current
        try:
            if model is None:
                raise ModelError(self.holder.last_error)
            predictions: Predictions = model.predictor.predict([r.text for r in batch])
        except Exception as err:  # handed to each waiting request; the worker must survive anything
            for request in batch:
                request.future.set_exception(err)
            return
        for i, request in enumerate(batch):
            request.future.set_result((predictions.labels[i], float(predictions.confidences[i]), model.version))
