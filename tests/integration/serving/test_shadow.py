"""Shadow scoring on a real ``app.py``: the champion answers every request, on time, whatever the challenger does.

The challengers are real registered versions. The slow and the raising one are the project's predictor behind a
fault, logged with their own model code (``tests/fixtures/faulty_pyfunc_model.py``, "models from code", as
``test_legacy_versions.py`` logs one): MLflow runs that code inside the server when it loads the version.
"""

from __future__ import annotations

import json
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import mlflow
import pytest
from mlflow.tracking import MlflowClient

from sentiment_lib.monitoring.checks.shadow import agreement_between
from sentiment_lib.serving.model_holder import WARM_UP_WORDS
from sentiment_lib.serving.served_log import SHADOW_FIELDS, read_shadow
from sentiment_lib.settings import CHALLENGER, GateThresholds
from sentiment_lib.tracking import gate, registry, runs
from tests.helpers import (
    NAME,
    REPO,
    LiveServer,
    as_json,
    new_registry,
    register_version,
    save_untrained_model,
    sst2,
    wait_until,
)

pytestmark = pytest.mark.slow
FAULTY_PYFUNC = REPO / "tests" / "fixtures" / "faulty_pyfunc_model.py"
JSON = {"Content-Type": "application/json"}
# every served text is offered to the challenger: the most a challenger can weigh on the server
SHADOW_ENV = {"SENTIMENT_SERVE_REFRESH_SECONDS": "0", "SENTIMENT_SERVE_SHADOW_SHARE": "1"}


def register_faulty_challenger(workspace: Path, model_dir: Path, fault: dict) -> str:
    """``model_dir`` behind ``fault`` as a new version of :data:`NAME` with ``@challenger``; its number."""
    runs.configure(workspace, "api-tests")
    fault_file = workspace / f"fault-{len(list(workspace.glob('fault-*.json')))}.json"
    fault_file.write_text(json.dumps({"healthy_calls": len(WARM_UP_WORDS), **fault}))
    with mlflow.start_run():
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=str(FAULTY_PYFUNC),
            artifacts={"model_dir": str(model_dir), "fault": str(fault_file)},
            registered_model_name=NAME,
            pip_requirements=["mlflow"],  # listed: MLflow would otherwise load the model to infer them
        )
    version = str(info.registered_model_version)
    MlflowClient().set_registered_model_alias(NAME, CHALLENGER, version)
    return version


def health(server: LiveServer) -> dict:
    status, body, _ = server.request("GET", "/health")
    assert status == 200, body
    return as_json(body)


def wait_for_challenger(server: LiveServer, version: str) -> None:
    wait_until(lambda: health(server).get("shadow_challenger_version") == version, 180, 0.5,
               lambda: f"the server did not shadow version {version}: {health(server)}")  # fmt: skip


def timed_predict(server: LiveServer, text: str, request_id: str) -> tuple[int, dict, float, str]:
    """Status, answer, seconds and request id of one /predict."""
    started = time.perf_counter()
    body = json.dumps({"review": text}).encode()
    status, answer, _ = server.request("POST", "/predict", body, {**JSON, "X-Request-ID": request_id})
    return status, as_json(answer), time.perf_counter() - started, request_id


def hammer(server: LiveServer, texts: list[str], clients: int = 8) -> list[tuple[int, dict, float, str]]:
    """Each text as one /predict (request id ``single-<n>``), ``clients`` at a time."""
    with ThreadPoolExecutor(clients) as pool:
        return list(pool.map(lambda n: timed_predict(server, texts[n], f"single-{n}"), range(len(texts))))


def champion_answers(texts: list[str]) -> tuple[list[str], list[float]]:
    """Version 1's own answers, from its predictor in this process."""
    found = registry.load_served_model(NAME, version="1").predictor.predict(texts)
    return found.labels, [float(c) for c in found.confidences]


def metric(server: LiveServer, name: str, version: str) -> float:
    """One shadow counter of /metrics for the challenger ``version`` (0 when it has no sample yet)."""
    status, body, _ = server.request("GET", "/metrics")
    assert status == 200
    prefix = f'{name}{{challenger_version="{version}"}} '
    found = [line[len(prefix) :] for line in body.decode().splitlines() if line.startswith(prefix)]
    return float(found[0]) if found else 0.0


def assert_the_champion_answered(answers: list[tuple[int, dict, float, str]], texts: list[str]) -> None:
    assert [status for status, *_ in answers] == [200] * len(texts)
    assert {body["model_version"] for _, body, *_ in answers} == {"1"}
    labels, confidences = champion_answers(texts)
    assert [body["sentiment"] for _, body, *_ in answers] == labels
    assert [body["confidence"] for _, body, *_ in answers] == pytest.approx(confidences, abs=1e-4)


def test_a_slow_challenger_delays_no_answer_and_its_overflow_is_dropped_and_counted(tmp_path, small_model, live_server):
    workspace = new_registry(tmp_path, small_model)
    assert register_faulty_challenger(workspace, small_model, {"sleep_seconds": 2}) == "2"
    # the default idle class here (the other tests run it at nice 19): it sleeps, so it needs little CPU
    server = live_server(
        workspace, {**SHADOW_ENV, "SENTIMENT_SERVE_SHADOW_QUEUE_SIZE": "4", "SENTIMENT_SERVE_SHADOW_CPU": "idle"}
    )
    wait_for_challenger(server, "2")
    texts = sst2("test")["Review"].head(160).tolist()
    answers = hammer(server, texts)
    assert_the_champion_answered(answers, texts)
    seconds = sorted(s for _, _, s, _ in answers)
    # on the request path, every answer would wait the challenger's 2 s
    assert statistics.median(seconds) < 0.5 and seconds[int(0.95 * len(seconds))] < 1.5, seconds[-10:]
    now = health(server)
    assert now["shadow_dropped"] > 100 and now["shadow_failed"] == 0 and now["shadow_queue_length"] <= 4
    assert metric(server, "sentiment_shadow_dropped_total", "2") == now["shadow_dropped"]
    server.stop()  # SIGTERM while the challenger sleeps in a batch: a clean stop all the same
    assert server.process.returncode == 0, server.log.read_text()[-2000:]


def test_a_challenger_that_raises_fails_no_answer_and_each_failure_is_counted(tmp_path, small_model, live_server):
    workspace = new_registry(tmp_path, small_model)
    register_faulty_challenger(workspace, small_model, {"raise": "the challenger is broken"})
    server = live_server(workspace, SHADOW_ENV)
    wait_for_challenger(server, "2")
    texts = sst2("test")["Review"].head(80).tolist()
    answers = hammer(server, texts)
    assert_the_champion_answered(answers, texts)
    batch = server.request("POST", "/batch_predict", json.dumps({"reviews": texts[:20]}).encode(), JSON)
    assert batch[0] == 200 and as_json(batch[1])["model_version"] == "1"
    wait_until(lambda: health(server)["shadow_failed"] == 100, 60, 0.2, lambda: f"not 100 failures: {health(server)}")
    assert metric(server, "sentiment_shadow_failed_total", "2") == 100
    assert metric(server, "sentiment_shadow_texts_total", "2") == 0
    assert health(server)["status"] == "ok" and not list(read_shadow(workspace / "logs" / "served" / "shadow"))


def test_a_challenger_that_fails_to_load_leaves_serving_alone_until_one_loads(tmp_path, small_model, live_server):
    workspace = new_registry(tmp_path, small_model)
    register_faulty_challenger(workspace, small_model, {"fail_to_load": "no such weights"})
    server = live_server(workspace, {**SHADOW_ENV, "SENTIMENT_SERVE_REFRESH_SECONDS": "0.5"})
    texts = sst2("test")["Review"].head(20).tolist()
    assert_the_champion_answered(hammer(server, texts), texts)

    def status_page() -> str:
        return server.request("GET", "/status")[1].decode()

    # the challenger loads (and fails) in a process of its own, which takes a few seconds to start
    failed = "No challenger is shadow-scored: loading @challenger (version 2) failed:"
    wait_until(lambda: failed in status_page(), 120, 0.5, lambda: f"no load failure shown: {health(server)}")
    assert "no such weights" in status_page()
    assert_the_champion_answered(hammer(server, texts), texts)
    now = health(server)
    assert now["status"] == "ok" and not [key for key in now if key.startswith("shadow")]
    assert register_faulty_challenger(workspace, small_model, {}) == "3"  # a sound one: shadowing starts
    wait_for_challenger(server, "3")
    assert_the_champion_answered(hammer(server, texts), texts)
    wait_until(lambda: metric(server, "sentiment_shadow_texts_total", "3") == 20, 60, 0.2, "20 texts not scored")


@pytest.fixture(scope="module")
def shadowed(tmp_path_factory, small_model, module_live_server):
    """A server whose challenger (version 2: another untrained head) answers differently from its champion, after
    100 texts shadow-scored: 60 single, 40 in one batch."""
    workspace = new_registry(tmp_path_factory.mktemp("shadowed"), small_model)
    other = save_untrained_model(tmp_path_factory.mktemp("other-model"), seed=1)
    assert register_version(other, promote=False) == "2"
    server = module_live_server(workspace, SHADOW_ENV)
    wait_for_challenger(server, "2")
    texts = sst2("test")["Review"].head(100).tolist()
    singles = hammer(server, texts[:60], clients=4)
    headers = {**JSON, "X-Request-ID": "batch-1"}
    assert server.request("POST", "/batch_predict", json.dumps({"reviews": texts[60:]}).encode(), headers)[0] == 200
    wait_until(lambda: metric(server, "sentiment_shadow_texts_total", "2") == 100, 120, 0.2,
               lambda: f"not 100 texts shadow-scored: {health(server)}")  # fmt: skip
    return workspace, server, texts, singles


def test_each_shadow_scored_text_is_one_log_line_with_both_answers(shadowed):
    workspace, _, texts, singles = shadowed
    lines = list(read_shadow(workspace / "logs" / "served" / "shadow"))
    assert len(lines) == 100 and all(set(SHADOW_FIELDS) | {"time"} <= set(line) for line in lines)
    assert {(line["champion_version"], line["challenger_version"]) for line in lines} == {("1", "2")}
    by_id = {line["request_id"]: line for line in lines}
    for status, body, _, request_id in singles:  # the champion's answer each caller got, as it was logged
        assert status == 200 and by_id[request_id]["champion_sentiment"] == body["sentiment"]
        assert by_id[request_id]["champion_confidence"] == pytest.approx(body["confidence"], abs=1e-6)
    assert [by_id[f"batch-1#{n}"]["text"] for n in range(40)] == texts[60:]
    challenger = registry.load_served_model(NAME, version="2").predictor.predict(texts[60:]).labels
    assert [by_id[f"batch-1#{n}"]["challenger_sentiment"] for n in range(40)] == challenger


def test_metrics_and_the_status_page_show_the_agreement_the_log_holds(shadowed):
    workspace, server, _, _ = shadowed
    live = agreement_between(workspace / "logs" / "served" / "shadow", "1", "2")
    assert live.texts == 100 and 0 < live.agreed < 100  # two different heads: they agree on some texts only
    assert metric(server, "sentiment_shadow_agreements_total", "2") == live.agreed
    assert metric(server, "sentiment_shadow_dropped_total", "2") == metric(server, "sentiment_shadow_failed_total",
                                                                           "2") == 0  # fmt: skip
    status, page, _ = server.request("GET", "/status")
    assert status == 200
    html = page.decode()
    low, high = live.interval
    assert f"<strong id='shadow-agreement'>{100 * live.agreed / live.texts:.1f}%</strong>" in html
    assert f"<span id='shadow-interval'>{100 * low:.1f}% to {100 * high:.1f}%</span>" in html
    assert "<span id='shadow-scored'>100</span>" in html and "id='shadow-disagreements'" in html


def test_the_gate_floor_blocks_a_disagreeing_challenger_and_waits_for_enough_texts(shadowed):
    workspace = shadowed[0]
    runs.configure_client(workspace)
    challenger = registry.version_for_alias(NAME, CHALLENGER)
    predictor = registry.load_served_model(NAME, version="2").predictor
    gate_set = sst2("dev").head(60)
    shadow_log = workspace / "logs" / "served" / "shadow"
    blocked = gate.apply_policy(
        NAME, challenger, predictor, gate_set, shadow_log=shadow_log,
        thresholds=GateThresholds(min_live_agreement=0.95, min_live_texts=50, max_regression=1.0),
    )  # fmt: skip
    assert blocked.startswith("Version 2 rejected; @champion stays version 1: challenger agrees with the champion on")
    assert "of 100 texts of live traffic, below the floor 95.0%" in blocked
    assert MlflowClient().get_model_version(NAME, "2").tags["gate.live_texts"] == "100"
    unjudged = gate.apply_policy(
        NAME, challenger, predictor, gate_set, shadow_log=shadow_log, policy="gate",
        thresholds=GateThresholds(min_live_agreement=0.95, min_live_texts=500, max_regression=1.0, margin=1.0),
    )  # fmt: skip
    assert unjudged.endswith("; live agreement not judged: 100 shadow-scored texts, fewer than 500.")
