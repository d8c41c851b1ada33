"""Zero-downtime model swap: a new champion is taken up while requests keep flowing, none fails."""

from __future__ import annotations

import json
import threading
import time

import pytest

from sentiment_lib.tracking import runs as tracking
from tests.helpers import LiveServer, as_json, new_registry, register_version, wait_until

pytestmark = pytest.mark.slow


def hammer(server: LiveServer, stop: threading.Event, seen: list, failures: list) -> None:
    body = json.dumps({"review": "a fine, moving film"}).encode()
    while not stop.is_set():
        code, payload, _ = server.request("POST", "/predict", body, {"Content-Type": "application/json"})
        if code == 200:
            seen.append(as_json(payload)["model_version"])
        else:
            failures.append((code, payload[:200]))


def test_new_champion_is_served_without_a_failed_request(tmp_path, small_model, live_server):
    workspace = new_registry(tmp_path, small_model)
    server = live_server(workspace, {"SENTIMENT_SERVE_REFRESH_SECONDS": "0.5"})
    stop, failures = threading.Event(), []
    seen = [[] for _ in range(4)]
    threads = [threading.Thread(target=hammer, args=(server, stop, s, failures)) for s in seen]
    try:
        for thread in threads:
            thread.start()
        time.sleep(1.5)
        tracking.configure(workspace, "api-tests")
        assert register_version(small_model) == "2"  # now @champion
        wait_until(lambda: all(s and s[-1] == "2" for s in seen), 60, 0.2, "not every client was answered by version 2")
        time.sleep(1.0)  # keep sending for a while on the new model
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
    assert failures == []
    for answers in seen:
        assert answers[0] == "1" and answers[-1] == "2"
        # each client sees the switch once: never back to the old version after the new one answered
        assert answers == sorted(answers)
    assert sum(len(s) for s in seen) > 100
