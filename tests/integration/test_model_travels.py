"""The registered model loads where only MLflow is: in a new virtualenv without this repository, installed
from the model's own requirements.txt, `mlflow models serve` answers and `mlflow.pyfunc.spark_udf` scores,
with the copy of sentiment_lib logged beside the model (code_paths)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.request
from importlib.metadata import version
from pathlib import Path

import mlflow
import pandas as pd
import pytest

from sentiment_lib.serving.process import free_port
from sentiment_lib.tracking import registry, runs
from tests.helpers import NAME, child_env, wait_until

pytestmark = pytest.mark.slow
REVIEWS = ["a warm, funny and moving film", "a dull, lifeless mess"]
SPARK_SCRIPT = """
import json, sys
from pyspark.sql import SparkSession
import mlflow
spark = SparkSession.builder.master("local[1]").config("spark.ui.enabled", "false").getOrCreate()
frame = spark.createDataFrame([(t,) for t in json.loads(sys.argv[1])], ["Review"])
udf = mlflow.pyfunc.spark_udf(spark, sys.argv[2], env_manager="local", result_type="string")
print(json.dumps([r[0] for r in frame.select(udf("Review")).collect()]))
spark.stop()
"""


@pytest.fixture(scope="module")
def bare_venv(tmp_path_factory, served_workspace):
    """A new virtualenv with the champion's requirements.txt and pyspark, and nothing of this repository."""
    runs.configure_client(served_workspace)
    uri = registry.model_uri(NAME, "champion")
    where = str(tmp_path_factory.mktemp("requirements"))
    requirements = Path(mlflow.artifacts.download_artifacts(f"{uri}/requirements.txt", dst_path=where))
    folder = tmp_path_factory.mktemp("venv") / "bare"
    subprocess.run([sys.executable, "-m", "venv", str(folder)], check=True)
    python = folder / "bin" / "python"
    pyspark = f"pyspark=={version('pyspark')}"
    install = [str(python), "-m", "pip", "install", "--quiet", "-r", str(requirements), pyspark]
    subprocess.run(install, check=True, timeout=1200)
    return python, requirements.read_text()


def bare_env(workspace: Path, python: Path) -> dict[str, str]:
    """As a user of that virtualenv has it: activated (MLflow starts its server's uvicorn from PATH)."""
    env = child_env(MLFLOW_TRACKING_URI=runs.tracking_uri(workspace), VIRTUAL_ENV=str(python.parents[1]))
    env["PATH"] = f"{python.parent}{os.pathsep}{env['PATH']}"
    env.pop("PYTHONPATH", None)
    return env


def test_the_model_needs_only_installable_requirements_and_its_logged_code(bare_venv, served_workspace, tmp_path):
    python, requirements = bare_venv
    assert "sentiment-lib" not in requirements and "torch" not in requirements
    lone = subprocess.run([str(python), "-c", "import sentiment_lib"], cwd=tmp_path, capture_output=True, text=True)
    assert lone.returncode != 0 and "No module named 'sentiment_lib'" in lone.stderr  # the repository is not there


def expected_labels(workspace: Path) -> list[str]:
    runs.configure_client(workspace)
    predictor = registry.load_served_model(NAME).predictor
    return [*predictor.predict(REVIEWS).labels]


def test_mlflow_models_serve_answers_in_a_bare_venv(bare_venv, served_workspace, tmp_path):
    python, _ = bare_venv
    port = free_port()
    command = [str(python.with_name("mlflow")), "models", "serve", "-m", registry.model_uri(NAME, "champion"),
               "--env-manager", "local", "--host", "127.0.0.1", "--port", str(port)]  # fmt: skip
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    server = subprocess.Popen(command, cwd=tmp_path, env=bare_env(served_workspace, python), **quiet)
    try:
        body = json.dumps({"dataframe_split": {"columns": ["Review"], "data": [[t] for t in REVIEWS]}}).encode()
        answer = _post_when_up(f"http://127.0.0.1:{port}/invocations", body, server)
    finally:
        server.terminate()
        server.wait(timeout=30)
    predictions = pd.DataFrame(answer["predictions"])
    assert predictions["sentiment"].tolist() == expected_labels(served_workspace)
    assert predictions["confidence"].between(0.5, 1).all()


def _post_when_up(url: str, body: bytes, server: subprocess.Popen, timeout: float = 120) -> dict:
    def answer() -> dict:
        if server.poll() is not None:
            raise AssertionError(f"mlflow models serve exited with status {server.returncode}")
        request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.load(response)

    # a refused connection (OSError) means "not listening yet"
    return wait_until(answer, timeout, 0.5, "mlflow models serve did not answer", ignore=(OSError,))


@pytest.mark.skipif(shutil.which("java") is None, reason="Spark needs Java")
def test_spark_udf_scores_in_a_bare_venv(bare_venv, served_workspace, tmp_path):
    python, _ = bare_venv
    uri = registry.model_uri(NAME, "champion")
    env = {**bare_env(served_workspace, python), "PYSPARK_PYTHON": str(python)}
    done = subprocess.run([str(python), "-c", SPARK_SCRIPT, json.dumps(REVIEWS), uri], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == expected_labels(served_workspace)
