"""Fixtures for every test: offline by default, a small real model, a registry serving it, real servers on
loopback (app.py, SMTP); and each test's tier marker, from its folder."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from aiosmtpd.controller import Controller

from sentiment_lib.serving.process import free_port
from tests.helpers import TESTS, TIERS, Inbox, LiveServer, new_registry, save_untrained_model, tier_of
from tests.status_workspace import make_status_workspace

if TYPE_CHECKING:
    from flask import Flask


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


def pytest_collection_modifyitems(items):
    """Mark each test with its tier from its file's folder, so ``pytest -m unit`` is the fast tier.

    Raises:
        pytest.UsageError: a test marked by hand with another tier than its folder's (it would be in two).
    """
    for item in items:
        path = Path(item.path).resolve()
        if TESTS not in path.parents:
            continue  # not a test of ours (a notebook nbval collects from the command line, say)
        tier = tier_of(path)
        by_hand = {mark.name for mark in item.iter_markers() if mark.name in TIERS} - {tier}
        if by_hand:
            raise pytest.UsageError(f"{item.nodeid}: its folder makes it {tier}; it is also marked {sorted(by_hand)}")
        item.add_marker(tier)


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


@contextlib.contextmanager
def _made_then_closed(make: Callable, close: Callable):
    """``make`` wrapped so that every thing it made is closed at the end, whatever happened."""
    made: list = []

    def tracked(*args, **options):
        made.append(make(*args, **options))
        return made[-1]

    try:
        yield tracked
    finally:
        for thing in made:
            close(thing)


def _servers():
    """A function starting ``python app.py`` servers; every one it started is stopped at the end, whatever happened
    (``stop`` is a no-op for one the test stopped itself)."""

    def start(workspace: Path, env: dict[str, str] | None = None, **options) -> LiveServer:
        return LiveServer(workspace, env or {}, **options)

    return _made_then_closed(start, LiveServer.stop)


@pytest.fixture
def live_server():
    """``live_server(workspace, env={...}, health=503, timeout=..., host=...)`` starts ``python app.py`` on a free
    port of loopback (or ``host``; :class:`tests.helpers.LiveServer`) and returns it; each one is stopped after the
    test, passed or not."""
    with _servers() as start:
        yield start


@pytest.fixture(scope="module")
def module_live_server():
    """:func:`live_server` for module-scoped fixtures: its servers stop after the module's last test."""
    with _servers() as start:
        yield start


def _in_process_apps():
    """A function making in-process Flask apps (``create_app``, no refresh); each one's watcher, shadow worker and
    challenger process are stopped at the end (``close_app``): left running, they outlive the test and are seen
    by the next ones in the same worker."""
    from sentiment_lib.serving.api import ServeConfig, close_app, create_app  # torch: only for the tests using it

    def make(workspace: Path, holder=None, **config) -> Flask:
        return create_app(ServeConfig(workspace=str(workspace), refresh_seconds=0, **config), holder=holder)

    return _made_then_closed(make, close_app)


@pytest.fixture
def make_app():
    """``make_app(workspace, holder=None, **ServeConfig fields)`` returns an in-process app, closed after the test."""
    with _in_process_apps() as make:
        yield make


@pytest.fixture(scope="module")
def module_make_app():
    """:func:`make_app` for module-scoped fixtures: its apps close after the module's last test."""
    with _in_process_apps() as make:
        yield make


@pytest.fixture(scope="module")
def status_server(status_workspace, module_live_server):
    """``app.py`` serving ``status_workspace``."""
    return module_live_server(status_workspace, {"SENTIMENT_SERVE_REFRESH_SECONDS": "0"})
