"""A real MLflow registry with a real (small) model for the API tests, and a real server on loopback."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path

import mlflow
import pytest
import torch

from sentiment_lib import model as model_lib
from sentiment_lib import registry, serve_demo, tracking
from sentiment_lib.config import PACKAGED_MODEL
from tests.conftest import child_env, sst2

NAME = "sentiment-classifier"


def calibration_texts() -> list[str]:
    return sst2("dev")["Review"].head(100).tolist()


def register_version(model_dir: Path, promote: bool = True) -> str:
    """Log and register ``model_dir`` as a new version; optionally make it the champion."""
    with mlflow.start_run():
        version = registry.log_and_register(model_dir, NAME, calibration_texts(), keep_local=True)
    if promote:
        registry.promote(NAME, str(version.version), "test")
    return str(version.version)


@pytest.fixture(scope="session")
def small_model(tmp_path_factory) -> Path:
    """The packaged encoder with a seeded, untrained head, saved as a fine-tuned model would be.

    Its answers are not meaningful sentiment, which the API tests do not need.
    """
    folder = tmp_path_factory.mktemp("model")
    torch.manual_seed(0)
    tokenizer, model = model_lib.load_pretrained(PACKAGED_MODEL)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def new_registry(workspace: Path, model_dir: Path) -> Path:
    """A workspace whose registry has ``model_dir`` as version 1, @champion."""
    tracking.configure(workspace, "api-tests")
    register_version(model_dir)
    return workspace


@pytest.fixture(scope="session")
def served_workspace(tmp_path_factory, small_model) -> Path:
    return new_registry(tmp_path_factory.mktemp("served"), small_model)


class LiveServer:
    """``python app.py`` in its own process on a free loopback port."""

    def __init__(self, workspace: Path, env: dict[str, str]):
        self.port = serve_demo.free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = serve_demo.launch_app(workspace, self.port, env=child_env(**env))
        serve_demo.wait_until_healthy(self.process, self.url, timeout=90)

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
        req = urllib.request.Request(self.url + path, data=body, method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=30) as response:
                return response.status, response.read(), dict(response.headers)
        except urllib.error.HTTPError as err:
            return err.code, err.read(), dict(err.headers)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=20)


def as_json(payload: bytes):
    return json.loads(payload.decode())
