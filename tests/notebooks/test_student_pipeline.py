"""A smaller model through the whole pipeline: trained as a student, gated against a 6-layer champion, served;
and the 6-layer version it was judged against still loads and serves beside it.

The module's workspace has a six-layer champion (version 1: the packaged encoder, registered as the pipeline
registers) and runs the pipeline as a user would with ``--preset smoke -p layers 3`` (version 2: a student of a
six-layer teacher the run trains first, judged by the gate like any challenger).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from sentiment_lib.tracking import registry
from sentiment_lib.tracking import runs as tracking
from sentiment_lib.training.train import encoder_depth
from tests.helpers import (
    NAME,
    as_json,
    assert_serves,
    new_registry,
    run_runner,
    write_airline_sample,
    write_sst2_sample,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def workspace(tmp_path_factory, small_model):
    ws = new_registry(tmp_path_factory.mktemp("student"), small_model)
    # as the pipeline tags the versions it trains (training.workflow.architecture_tags)
    registry.tag_version(NAME, "1", {registry.ENCODER_LAYERS_TAG: str(encoder_depth(str(small_model)))})
    evaluation = ("-p", "sst2_test_path", str(write_sst2_sample(ws)), "-p", "airline_test_path")
    evaluation += (str(write_airline_sample(ws)),)
    done = run_runner("pipeline", "--preset", "smoke", "--cycle", "c2", *evaluation, "-p", "layers", "3", workspace=ws)
    assert done.returncode == 0, done.stderr[-3000:]
    tracking.configure_client(ws)
    return ws


def version(number: str):
    return MlflowClient().get_model_version(NAME, number)


def test_the_student_is_registered_with_its_depth_teacher_and_numbers(workspace):
    six, student = version("1"), version("2")
    assert six.tags["encoder_layers"] == "6" and "teacher_dir" not in six.tags
    assert student.tags["encoder_layers"] == "3"
    teacher = Path(student.tags["teacher_dir"])
    assert json.loads((teacher / "config.json").read_text())["num_hidden_layers"] == 6
    run = MlflowClient().get_run(student.run_id)
    assert run.data.params["settings.layers"] == "3"
    assert 0.5 < run.data.metrics["teacher_1_val_accuracy"] <= 1.0
    # 320 real SST-2 phrases and a few seconds of training beat chance clearly, at half the depth too
    assert float(student.tags["sst2_test_accuracy"]) > 0.6
    assert "; 3 encoder layers, distilled from a full-depth teacher" in student.description


def test_the_gate_judged_the_student_against_the_six_layer_champion(workspace):
    student = version("2")
    assert student.tags["gate.champion_version"] == "1"
    assert student.tags["gate.promote"] in {"true", "false"} and student.tags["gate.reason"]


@pytest.mark.parametrize("number", ["2", "1"])
def test_each_depth_is_served_once_it_is_the_champion(workspace, live_server, number):
    if str(MlflowClient().get_model_version_by_alias(NAME, "champion").version) != number:
        done = run_runner("promote", number, "--reason", f"serve version {number}", workspace=workspace)
        assert done.returncode == 0, done.stderr[-2000:]
    server = live_server(workspace)
    assert_serves(server, number, "a warm, funny and moving film")
    status, body, _ = server.request("GET", "/model")
    assert status == 200 and as_json(body)["model_version"] == number
    assert as_json(body)["backend"] == "onnx-int8"
    assert as_json(body)["encoder_layers"] == {"2": 3, "1": 6}[number]
    assert "encoder_layers" not in as_json(body)["metrics"]
