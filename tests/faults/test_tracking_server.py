"""A real MLflow tracking server (SQLite backend, proxied artifacts) that a workspace with no store of its own
trains on, behind a proxy that breaks on cue: the gate and the cycle must read a failing registry as "cannot
tell", never as "no champion" (which would promote the challenger without a gate); and two API replicas that
follow @champion through the server."""

from __future__ import annotations

import contextlib
import email
import email.policy
import http.client
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import mlflow
import pytest

from sentiment_lib.serving.process import free_port
from sentiment_lib.settings import CHALLENGER, CHAMPION
from sentiment_lib.tracking.server import start_tracking_server
from tests.helpers import NAME, LiveServer, as_json, child_env, run_runner, wait_until, write_sst2_sample

pytestmark = pytest.mark.slow
JSON = {"Content-Type": "application/json"}
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
    server = start_tracking_server(tmp_path_factory.mktemp("tracking-server"), free_port(), env=child_env())
    port = int(server.url.rsplit(":", 1)[1])
    proxy = FaultProxy(port)
    yield proxy, f"http://127.0.0.1:{port}"
    proxy.shutdown()
    server.stop()


def server_client(server_url: str) -> mlflow.MlflowClient:
    """A client of the server that leaves this process's MLflow settings alone (later tests read their own)."""
    return mlflow.MlflowClient(tracking_uri=server_url, registry_uri=server_url)


def register_again(client: mlflow.MlflowClient, version) -> str:
    """A new version of the same logged model: a second version that costs no second training."""
    model_id = version.model_id or version.source.removeprefix("models:/")  # the server's answer may omit it
    return client.create_model_version(NAME, version.source, run_id=version.run_id, model_id=model_id).version


def aliases(server_url: str) -> dict[str, str]:
    return dict(server_client(server_url).get_registered_model(NAME).aliases)


@pytest.fixture(scope="module")
def workspace(tracking_server, tmp_path_factory):
    """A workspace with no store of its own, trained on the server: v1 @champion, v2 @challenger."""
    _, direct = tracking_server
    ws = tmp_path_factory.mktemp("ws")
    write_sst2_sample(ws, rows=300, test_rows=10)
    done = run_runner("pipeline", *SMOKE, "--cycle", "c1", workspace=ws, env={"MLFLOW_TRACKING_URI": direct})
    assert done.returncode == 0, done.stderr[-3000:]
    client = server_client(direct)
    champion = client.get_model_version_by_alias(NAME, CHAMPION)
    challenger = register_again(client, champion)
    client.set_registered_model_alias(NAME, CHALLENGER, str(challenger))
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
    trained_before = list(workspace.glob("reports/*/02_train.ipynb"))
    with proxy.failing("500"):
        done = run_runner("once", *SMOKE, workspace=workspace, env=env)
    assert done.returncode == 1, done.stderr[-2000:]
    (alert,) = [
        email.message_from_bytes(p.read_bytes(), policy=email.policy.default) for p in workspace.glob("outbox/*")
    ]
    assert alert["X-Alert-Kind"] == "registry_unavailable"
    assert "nothing was trained or promoted" in done.stdout
    assert aliases(direct) == {CHAMPION: "1", CHALLENGER: "2"}
    assert list(workspace.glob("reports/*/02_train.ipynb")) == trained_before  # no "first model" was trained


def served_version(replica: LiveServer) -> str:
    status, body, _ = replica.request("GET", "/health")
    return as_json(body).get("model_version", "") if status == 200 else ""


# last in the module: it moves @champion, which the tests above expect at version 1
def test_replicas_on_two_ports_follow_the_champion_through_the_server(tracking_server, workspace, live_server):
    _, direct = tracking_server
    assert not (workspace / "mlflow.db").exists() and not (workspace / "mlartifacts").exists()
    client = server_client(direct)
    assert client.get_experiment_by_name("sentiment-analysis").artifact_location.startswith("mlflow-artifacts:")
    done = run_runner("once", *SMOKE, workspace=workspace, env={"MLFLOW_TRACKING_URI": direct})
    assert done.returncode == 0, done.stderr[-3000:]
    assert not (workspace / "mlflow.db").exists()

    env = {"MLFLOW_TRACKING_URI": direct, "SENTIMENT_SERVE_REFRESH_SECONDS": "1"}
    replicas = [live_server(workspace, env=env), live_server(workspace, env=env)]
    assert [served_version(r) for r in replicas] == ["1", "1"]
    answers = [r.request("POST", "/predict", json.dumps({"review": "a fine film"}).encode(), JSON) for r in replicas]
    assert [a[0] for a in answers] == [200, 200] and as_json(answers[0][1]) == as_json(answers[1][1])
    # each replica logs what it served to a file of its own
    assert len(list((workspace / "logs" / "served").glob("served-*.jsonl"))) == 2
    champion = client.get_model_version_by_alias(NAME, CHAMPION)
    promoted = register_again(client, champion)
    client.set_registered_model_alias(NAME, CHAMPION, str(promoted))

    def versions() -> list[str]:
        return [served_version(r) for r in replicas]

    moved = f"the replicas did not both move to version {promoted}"
    wait_until(lambda: versions() == [str(promoted)] * 2, 30, 0.5, lambda: f"{moved} (they serve {versions()})")
