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
            raise ServingUnavailableError(f"{self.base_url}{path} answered {err.code}: {detail}") from None
        except (OSError, ValueError) as err:
            raise ServingUnavailableError(
                f"no prediction API answers at {self.base_url} ({err}); start one with `python runner.py serve`"
            ) from None

    def health(self) -> dict:
        """``/health``'s answer, even a 503 one (no champion loaded yet)."""
        try:
            return self._call("/health")
        except ServingUnavailableError as err:
            if " answered 503: " in str(err):
                return {"status": "unavailable", "reason": str(err)}
            raise

    def served_version(self) -> str:
        return str(self.health().get("model_version", ""))

    def wait_for_version(self, version: str, timeout_seconds: float = 180.0, poll_seconds: float = 1.0) -> None:
        """Wait until the API serves ``version`` (it picks up a new champion on its next refresh).

        Raises:
            ServingUnavailableError: it still serves another version after ``timeout_seconds``.
        """
        deadline = time.monotonic() + timeout_seconds
        while (serving := self.served_version()) != version:
            if time.monotonic() > deadline:
                raise ServingUnavailableError(
                    f"{self.base_url} still serves version {serving or 'none'} after {timeout_seconds:.0f} s, "
                    f"not the champion {version}: is it serving this workspace's registry?"
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
