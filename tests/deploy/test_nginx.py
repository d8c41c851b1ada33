"""deploy/nginx/sentiment.conf in a real nginx on loopback, in front of a real app: idle and dripping clients,
an oversized body, a flood and a second host's client are each met as the file promises."""

from __future__ import annotations

import http.client
import json
import resource
import socket
import time

import pytest

from sentiment_lib.serving import process
from tests.deploy import nginx_front
from tests.faults.test_hostile_clients import own_address

pytestmark = pytest.mark.slow
PREDICT = json.dumps({"review": "The room was clean and the staff were kind."}).encode()
JSON = {"Content-Type": "application/json"}


def nginx_binary() -> str:
    found = nginx_front.nginx_binary()
    if found is None:
        pytest.skip("nginx is not installed (Debian: apt-get install nginx; make install does it as root)")
    return found


def request(
    host: str, port: int, method: str, path: str, body=None, headers=None, source: str | None = None
) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection(host, port, timeout=10, source_address=(source, 0) if source else None)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


@pytest.fixture(scope="module")
def app(served_workspace, module_live_server):
    env = {"SENTIMENT_SERVE_REFRESH_SECONDS": "0", "SENTIMENT_SERVE_TRUSTED_PROXIES": "127.0.0.1"}
    return module_live_server(served_workspace, env)


@pytest.fixture(scope="module")
def front(app, tmp_path_factory):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(max(soft, 4096), hard), hard))  # this test's 1,000 clients
    port = process.free_port()
    listens = [f"127.0.0.1:{port}"]
    outside = own_address()
    if outside:
        listens.append(f"{outside}:{port}")
    nginx = nginx_front.Front(nginx_binary(), tmp_path_factory.mktemp("nginx"), app.port, listens)
    nginx.port, nginx.outside = port, outside
    yield nginx
    nginx.stop()


def test_predict_goes_through(front):
    status, body = request("127.0.0.1", front.port, "POST", "/predict", PREDICT, JSON)
    assert status == 200 and json.loads(body)["sentiment"] in ("positive", "negative")


def test_1000_idle_and_dripping_clients_do_not_stop_predict(front):
    clients = []
    try:
        for n in range(1000):
            client = socket.create_connection(("127.0.0.1", front.port), timeout=5)
            if n % 2:  # half drip a request line and one header, then nothing more
                client.sendall(b"POST /predict HTTP/1.1\r\nHost: x\r\n")
            clients.append(client)
        time.sleep(0.5)
        started = time.perf_counter()
        status, _ = request("127.0.0.1", front.port, "POST", "/predict", PREDICT, JSON)
        seconds = time.perf_counter() - started
        assert status == 200 and seconds < 1.0
    finally:
        for client in clients:
            client.close()


def test_a_6_mb_body_is_refused_by_nginx_before_the_app_reads_it(front, app):
    before = app.request("GET", "/metrics")[1].decode()
    body = json.dumps({"reviews": ["x" * 1000] * 6000}).encode()
    assert len(body) > 6_000_000
    status, _ = request("127.0.0.1", front.port, "POST", "/batch_predict", body, JSON)
    assert status == 413
    assert "client intended to send too large body" in front.error_log()
    after = app.request("GET", "/metrics")[1].decode()
    assert _count(after, "413") == _count(before, "413")  # the app answered no 413: it never saw the request


def _count(metrics: str, status: str) -> float:
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in metrics.splitlines()
        if line.startswith("sentiment_requests_total{") and f'status="{status}"' in line
    )


def test_a_flood_from_one_address_is_limited_and_another_address_is_not(front):
    statuses = [request("127.0.0.1", front.port, "GET", "/health", source="127.0.0.2")[0] for _ in range(80)]
    assert statuses.count(429) > 0 and statuses.count(200) >= 40  # the burst passes, the rest waits its turn
    assert request("127.0.0.1", front.port, "GET", "/health", source="127.0.0.3")[0] == 200


def test_the_status_page_is_refused_to_a_client_on_another_host_through_the_proxy(front):
    if not front.outside:
        pytest.skip("this machine has no non-loopback address to be a client on another host from")
    assert request("127.0.0.1", front.port, "GET", "/")[0] == 200  # on the host: allowed
    outside = front.outside
    assert request(outside, front.port, "GET", "/", source=outside)[0] == 403
    # a client naming itself loopback is not believed: nginx replaces the header with the address it sees
    spoofed = {"X-Forwarded-For": "127.0.0.1", "X-Real-IP": "127.0.0.1", "Forwarded": "for=127.0.0.1"}
    assert request(outside, front.port, "GET", "/", headers=spoofed, source=outside)[0] == 403
    status, _ = request(outside, front.port, "POST", "/predict", PREDICT, JSON, source=outside)
    assert status == 200  # predictions stay open to it
