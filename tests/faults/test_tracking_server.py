"""A real MLflow tracking server behind a proxy that breaks on cue: the gate and the cycle must read a failing
registry as "cannot tell", never as "no champion" (which would promote the challenger without a gate)."""

from __future__ import annotations

import contextlib
import email
import email.policy
import http.client
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import mlflow
import pytest

from sentiment_lib.config import CHALLENGER, CHAMPION
from sentiment_lib.serving.process import free_port
from sentiment_lib.tracking import runs
from tests.helpers import NAME, child_env, register_version, run_runner, write_sst2_sample

pytestmark = pytest.mark.slow
SMOKE = ("--preset", "smoke", "-p", "sst2_test_path", "none", "-p", "airline_test_path", "none")
# MLflow retries a failing server with back-off for minutes by default; a test needs the verdict sooner
FAST_GIVE_UP = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1", "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "0"}


class FaultProxy(ThreadingHTTPServer):
    """Forwards every request to the tracking server, except reads of ``@champion`` while ``fault`` is set:
    those get a 500 (``"500"``) or a connection closed without an answer (``"refuse"``)."""

    daemon_threads = True

    def __init__(self, upstream_port: int):
        self.upstream_port = upstream_port
        self.fault = ""
        self.faults_served = 0
        super().__init__(("127.0.0.1", 0), _ProxyHandler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    @contextlib.contextmanager
    def failing(self, fault: str):
        """Answers reads of ``@champion`` with ``fault`` inside the block, and relays them again after it."""
        self.fault, self.faults_served = fault, 0
        try:
            yield self
        finally:
            self.fault = ""


class _ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:  # quiet
        pass

    def _champion_read(self) -> bool:
        return "registered-models/alias" in self.path and f"alias={CHAMPION}" in self.path

    def _relay(self) -> None:
        proxy: FaultProxy = self.server
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if proxy.fault and self._champion_read():
            proxy.faults_served += 1
            if proxy.fault == "refuse":
                self.close_connection = True
                self.connection.shutdown(2)
                return
            self.send_response(500)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        upstream = http.client.HTTPConnection("127.0.0.1", proxy.upstream_port, timeout=120)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in {"host", "connection"}}
        upstream.request(self.command, self.path, body=body, headers=headers)
        answer = upstream.getresponse()
        data = answer.read()
        self.send_response(answer.status)
        for key, value in answer.getheaders():
            if key.lower() not in {"transfer-encoding", "connection", "content-length"}:
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        upstream.close()

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _relay


@pytest.fixture(scope="module")
def tracking_server(tmp_path_factory):
    """``mlflow server`` (SQLite backend, served artifacts) in its own process, and a proxy in front of it."""
    root = tmp_path_factory.mktemp("tracking-server")
    port = free_port()
    command = [
        str(Path(sys.executable).with_name("mlflow")),
        "server",
        "--backend-store-uri",
        f"sqlite:///{root / 'server.db'}",
        "--artifacts-destination",
        str(root / "artifacts"),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
    ]
    server = subprocess.Popen(command, env=child_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as answer:
                if answer.status == 200:
                    break
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("mlflow server did not start") from None
            time.sleep(0.5)
    proxy = FaultProxy(port)
    yield proxy, f"http://127.0.0.1:{port}"
    proxy.shutdown()
    server.terminate()
    server.wait(timeout=30)


def aliases(server_url: str) -> dict[str, str]:
    client = mlflow.MlflowClient(tracking_uri=server_url, registry_uri=server_url)
    return dict(client.get_registered_model(NAME).aliases)


@pytest.fixture(scope="module")
def workspace(tracking_server, small_model, tmp_path_factory, request):
    """A workspace tracked on the server: v1 @champion, v2 @challenger, and a preprocessed split."""
    proxy, _ = tracking_server
    ws = tmp_path_factory.mktemp("ws")
    write_sst2_sample(ws, rows=300, test_rows=10)
    # this process registers through the proxy, then must point MLflow back where it was: a later test that
    # loads "models:/<name>@champion" in this process would otherwise read this server's untrained model
    monkeypatch = pytest.MonkeyPatch()
    request.addfinalizer(monkeypatch.undo)
    monkeypatch.setattr(runs, "_SET_BY_US", {})
    for key, value in {"MLFLOW_TRACKING_URI": proxy.url, "MLFLOW_REGISTRY_URI": proxy.url, **FAST_GIVE_UP}.items():
        monkeypatch.setenv(key, value)
    runs.configure(ws, "sentiment-analysis")
    champion = register_version(small_model)  # v1, @champion
    client = mlflow.MlflowClient()
    # v2: the same logged model registered again, which costs no second export
    challenger = mlflow.register_model(client.get_model_version(NAME, champion).source, NAME).version
    client.set_registered_model_alias(NAME, CHALLENGER, str(challenger))
    monkeypatch.undo()  # MLflow exports both URIs to the environment: undoing them undoes that too
    done = run_runner("preprocess", "--preset", "smoke", workspace=ws, env={"MLFLOW_TRACKING_URI": proxy.url})
    assert done.returncode == 0, done.stderr[-2000:]
    return ws


@pytest.mark.parametrize("fault", ["500", "refuse"])
def test_the_gate_never_promotes_when_the_server_fails_to_say_who_the_champion_is(tracking_server, workspace, fault):
    proxy, direct = tracking_server
    before = aliases(direct)
    env = {"MLFLOW_TRACKING_URI": proxy.url, **FAST_GIVE_UP}
    with proxy.failing(fault):
        done = run_runner("evaluate", *SMOKE, workspace=workspace, env=env)
    assert done.returncode == 1, done.stderr[-2000:]
    assert "RegistryUnavailableError" in done.stderr and proxy.faults_served > 0
    assert aliases(direct) == before == {CHAMPION: "1", CHALLENGER: "2"}  # nothing promoted


def test_a_cycle_alerts_and_trains_nothing_when_the_server_fails(tracking_server, workspace):
    proxy, direct = tracking_server
    env = {"MLFLOW_TRACKING_URI": proxy.url, **FAST_GIVE_UP}
    with proxy.failing("500"):
        done = run_runner("once", *SMOKE, workspace=workspace, env=env)
    assert done.returncode == 1, done.stderr[-2000:]
    (alert,) = [
        email.message_from_bytes(p.read_bytes(), policy=email.policy.default) for p in workspace.glob("outbox/*")
    ]
    assert alert["X-Alert-Kind"] == "registry_unavailable"
    assert "nothing was trained or promoted" in done.stdout
    assert aliases(direct) == {CHAMPION: "1", CHALLENGER: "2"}
    assert not list(workspace.glob("reports/*/02_train.ipynb"))  # no "first model" was trained
