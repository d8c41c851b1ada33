"""A small client of the prediction API, for commands that send traffic through a running ``app.py``."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Sequence
from typing import Any

from sentiment_lib.errors import ServingUnavailableError

BATCH_ITEMS = 100  # texts per /batch_predict call: well under the API's limit, small enough to share the CPU


class ApiClient:
    """Calls ``base_url`` (for example ``http://127.0.0.1:5000``); every failure is a ServingUnavailableError."""

    def __init__(self, base_url: str, timeout_seconds: float = 120.0):
        self.base_url = base_url.rstrip("/")
        self.timeout_seconds = timeout_seconds

    def _call(self, path: str, payload: Any = None, request_id: str = "") -> dict:
        data = None if payload is None else json.dumps(payload).encode("utf-8")
        headers = {"Content-Type": "application/json"} if data is not None else {}
        if request_id:
            headers["X-Request-ID"] = request_id
        request = urllib.request.Request(self.base_url + path, data=data, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_seconds) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as err:
            detail = err.read().decode("utf-8", "replace")[:300]
            raise ServingUnavailableError(f"{self.base_url}{path} answered {err.code}: {detail}", err.code) from None
        except (OSError, ValueError) as err:
            raise ServingUnavailableError(
                f"no prediction API answers at {self.base_url} ({err}); "
                "start one with `python runner.py serve` (or `make demo`)"
            ) from None

    def health(self) -> dict:
        """``/health``'s answer, even a 503 one (no champion loaded yet)."""
        try:
            return self._call("/health")
        except ServingUnavailableError as err:
            if err.status == 503:
                return {"status": "unavailable", "reason": str(err)}
            raise

    def served_model(self) -> tuple[str, str]:
        """The (version, MLflow run id) the API serves; ("", "") while it has no model loaded."""
        try:
            body = self._call("/model")
        except ServingUnavailableError as err:
            if err.status == 503:
                return "", ""
            raise
        return str(body.get("model_version", "")), str(body.get("run_id", ""))

    def wait_for_version(
        self, version: str, own_runs: dict[str, str], timeout_seconds: float = 180.0, poll_seconds: float = 1.0
    ) -> None:
        """Wait until the API serves ``version`` (it picks up a new champion on its next refresh).

        ``own_runs`` maps the versions of the caller's registry to their run ids: a served model outside it
        belongs to another registry, which no amount of waiting fixes.

        Raises:
            ServingUnavailableError: it serves another registry's model, or still another version after
                ``timeout_seconds``.
        """
        deadline = time.monotonic() + timeout_seconds
        while (serving := self.served_model()) != (version, own_runs.get(version)):
            served_version, served_run = serving
            if served_version and own_runs.get(served_version) != served_run:
                raise ServingUnavailableError(
                    f"{self.base_url} serves version {served_version} of run {served_run}, which is not in this "
                    "workspace's registry: point --serve at the API started from this workspace (make demo)"
                )
            if time.monotonic() > deadline:
                raise ServingUnavailableError(
                    f"{self.base_url} still serves version {served_version or 'none'} after "
                    f"{timeout_seconds:.0f} s, not the champion {version}"
                )
            time.sleep(poll_seconds)

    def predict(self, texts: Sequence[str], request_id: str = "") -> list[dict]:
        """Every text's ``{"sentiment", "confidence"}`` (plus ``model_version``), in order, in calls of
        :data:`BATCH_ITEMS`, each with its own ``X-Request-ID`` (``request_id`` plus the call's number)."""
        request_id = request_id or uuid.uuid4().hex
        answers = []
        for number, start in enumerate(range(0, len(texts), BATCH_ITEMS)):
            chunk = list(texts[start : start + BATCH_ITEMS])
            body = self._call("/batch_predict", {"reviews": chunk}, f"{request_id}-{number}")
            version = str(body.get("model_version", ""))
            answers += [{**p, "model_version": version} for p in body["predictions"]]
        return answers
