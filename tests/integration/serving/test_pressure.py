"""The API under pressure: oversized bodies, too many batches, a stuck model call, a served log that cannot be
written. Against the real server (waitress in its own process) where the server is the part under test."""

from __future__ import annotations

import json
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from sentiment_lib.inference.predictor import Predictions
from sentiment_lib.serving.model_holder import LoadedModel, ModelHolder
from tests.helpers import LiveServer, as_json, sst2, wait_until

pytestmark = pytest.mark.slow
JSON = {"Content-Type": "application/json"}
LIMIT = 5 * 1024 * 1024


@pytest.fixture(scope="module")
def server(served_workspace, module_live_server):
    env = {
        "SENTIMENT_SERVE_REFRESH_SECONDS": "0",
        "SENTIMENT_SERVE_MAX_CONCURRENT_BATCHES": "1",
        "SENTIMENT_SERVE_BATCH_WAIT_SECONDS": "0",
    }
    return module_live_server(served_workspace, env)


def _raw_exchange(server: LiveServer, head: bytes, body_chunks, wait: float = 15.0) -> bytes:
    """Send ``head`` then as much of ``body_chunks`` as the server takes; return what it answers."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=wait) as sock:
        sock.sendall(head)
        try:
            for chunk in body_chunks:
                sock.sendall(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed before the body ended: what is asserted below
        return sock.recv(4096)


def test_a_declared_body_over_the_limit_is_refused_before_it_is_sent(server):
    head = (
        b"POST /batch_predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Content-Length: 536870912\r\n\r\n"  # half a GiB: under waitress' own default limit
    )
    started = time.monotonic()
    answer = _raw_exchange(server, head, [])  # not one byte of the body is sent
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert time.monotonic() - started < 10


def test_a_chunked_body_is_refused_once_it_passes_the_limit(server):
    head = (
        b"POST /batch_predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
    )
    piece = b"x" * 65536
    chunks = [b"%x\r\n%s\r\n" % (len(piece), piece)] * (LIMIT // len(piece) + 8)  # and no last chunk: never ends
    answer = _raw_exchange(server, head, chunks)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]


def test_concurrent_batches_beyond_the_bound_get_503_with_retry_after(server):
    reviews = sst2("train")["Review"].head(1000).tolist()
    body = json.dumps({"reviews": reviews}).encode()
    with ThreadPoolExecutor(6) as pool:
        batches = [pool.submit(server.request, "POST", "/batch_predict", body, JSON) for _ in range(6)]
        time.sleep(0.5)
        single = server.request("POST", "/predict", b'{"review": "fine while batches run"}', JSON)
        answers = [future.result() for future in batches]
    codes = sorted(code for code, _, _ in answers)
    assert 200 in codes and 503 in codes and set(codes) <= {200, 503}, codes
    refused = next(a for a in answers if a[0] == 503)
    assert refused[2]["Retry-After"] == "1" and "Too many batch requests" in as_json(refused[1])["error"]
    assert single[0] == 200  # single predictions are not held behind the batches
    assert all(
        len(as_json(payload)["predictions"]) == len(reviews) == 1000 for code, payload, _ in answers if code == 200
    )


class _HangingPredictor:
    """A model call that blocks until released: what a deadlocked or runaway inference looks like."""

    backend_name = "hanging"

    def __init__(self):
        self.release = threading.Event()

    def predict(self, texts):
        self.release.wait(30)
        return Predictions(["positive"] * len(texts), np.full(len(texts), 0.9), np.zeros((len(texts), 2)))


def test_health_reports_a_stuck_micro_batcher_and_predict_times_out(tmp_path, make_app):
    predictor = _HangingPredictor()
    holder = ModelHolder("unused")
    holder.current = LoadedModel(predictor, "7", "run", "2026-01-01")
    client = make_app(tmp_path, holder=holder, predict_timeout_seconds=0.5, stuck_after_seconds=0.2).test_client()
    try:
        response = client.post("/predict", json={"review": "waits for a model that hangs"})
        assert response.status_code == 503 and response.headers["Retry-After"] == "1"
        assert "no answer within 0.5 s" in response.get_json()["error"]
        health = client.get("/health")
        assert health.status_code == 503 and health.get_json()["status"] == "stuck"
        assert "model call has run for" in health.get_json()["reason"]
    finally:
        predictor.release.set()
    # it recovers once the call returns
    wait_until(lambda: client.get("/health").status_code == 200, 10, 0.05, "/health did not recover after the call")
    assert client.get("/health").get_json()["status"] == "ok"


def test_a_served_log_that_cannot_be_written_never_fails_a_prediction(
    served_workspace, tmp_path, monkeypatch, make_app
):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("SENTIMENT_SERVED_LOG_DIR", str(blocker / "served"))
    client = make_app(served_workspace).test_client()
    assert client.post("/predict", json={"review": "still answered"}).status_code == 200
    assert client.post("/batch_predict", json={"reviews": ["one", "two"]}).status_code == 200
    health = client.get("/health").get_json()
    assert health["status"] == "ok" and health["served_log_failures"] == 2
    assert "Not a directory" in health["served_log_last_failure"]
