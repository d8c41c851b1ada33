"""Fixtures for every test: offline by default, a small real model, a registry serving it, an SMTP inbox."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from sentiment_lib.serving.process import free_port
from tests.helpers import Inbox, LiveServer, new_registry, save_untrained_model
from tests.status_workspace import make_status_workspace


def _share_the_cores() -> None:
    """Under ``pytest -n N`` (make test), give each worker and its children its share of the cores.

    torch (OpenMP) and ONNX Runtime default to a thread per core and spin while they wait: two workers each
    training with two threads on two cores ran one loop test 8 times slower than alone.
    """
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if workers < 2:
        return
    threads = str(max(1, len(os.sched_getaffinity(0)) // workers))
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "SENTIMENT_THREADS"):
        os.environ.setdefault(name, threads)  # inherited by every runner.py, app.py and notebook kernel
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(int(threads))


_share_the_cores()


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("TQDM_DISABLE", "1")


@pytest.fixture(scope="session")
def small_model(tmp_path_factory) -> Path:
    """The packaged encoder with a seeded, untrained head (see :func:`tests.helpers.save_untrained_model`)."""
    return save_untrained_model(tmp_path_factory.mktemp("model"))


@pytest.fixture(scope="session")
def served_workspace(tmp_path_factory, small_model) -> Path:
    return new_registry(tmp_path_factory.mktemp("served"), small_model)


@pytest.fixture
def smtp_server():
    """A real SMTP server on loopback (aiosmtpd) that keeps every message it receives."""
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield inbox, controller.port
    controller.stop()


@pytest.fixture(scope="module")
def status_workspace(served_workspace, tmp_path_factory):
    """A copy of ``served_workspace`` with three loop cycles behind it (see tests/status_workspace.py)."""
    return make_status_workspace(served_workspace, tmp_path_factory.mktemp("status") / "ws")


@pytest.fixture(scope="module")
def status_server(status_workspace):
    """``app.py`` serving ``status_workspace``."""
    live = LiveServer(status_workspace, {"SENTIMENT_SERVE_REFRESH_SECONDS": "0"})
    yield live
    live.stop()
