"""`app.py --workers 2`: two server processes on one port, /metrics counts both, a dead one replaced, all stopped."""

from __future__ import annotations

import json
import os
import signal
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from sentiment_lib.serving import process
from tests.helpers import child_env, wait_until

pytestmark = pytest.mark.slow


def children(pid: int) -> list[int]:
    found = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return sorted(int(child) for child in found)


def predict(url: str, text: str) -> int:
    body = json.dumps({"review": text}).encode()
    request = urllib.request.Request(f"{url}/predict", data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as answer:
        return answer.status


def predicted_count(url: str) -> float:
    """``/predict`` requests answered 200, as /metrics reports them."""
    with urllib.request.urlopen(f"{url}/metrics", timeout=30) as answer:
        families = text_string_to_metric_families(answer.read().decode())
    requests = next(f for f in families if f.name == "sentiment_requests")
    return sum(s.value for s in requests.samples if s.labels == {"route": "/predict", "status": "200"})


def test_two_workers_share_the_port_and_a_dead_one_is_replaced(served_workspace):
    port = process.free_port()
    url = f"http://127.0.0.1:{port}"
    parent = process.launch_app(served_workspace, port, ("--workers", "2"), env=child_env())
    try:
        process.wait_until_healthy(parent, url, timeout=120)
        first = children(parent.pid)
        assert len(first) == 2
        with ThreadPoolExecutor(16) as pool:
            assert set(pool.map(lambda n: predict(url, f"review number {n}"), range(64))) == {200}
        # whichever worker answers the scrape counts both workers' requests
        assert [predicted_count(url) for _ in range(6)] == [64] * 6
        os.kill(first[0], signal.SIGKILL)
        wait_until(
            lambda: len(children(parent.pid)) == 2 and first[0] not in children(parent.pid),
            120,
            0.3,
            "the killed worker was not replaced",
        )
        wait_until(lambda: predict(url, "still served") == 200, 120, 0.3, "predict did not answer after a worker died")
    finally:
        workers = children(parent.pid) if parent.poll() is None else []
        parent.terminate()
        parent.wait(timeout=60)
    assert parent.returncode == 0
    assert all(not Path(f"/proc/{pid}").exists() for pid in workers)  # stopped with the parent
