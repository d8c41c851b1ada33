"""Helpers every test folder shares: the real data sets, small workspaces made from them, a registry with a
real model, a real app.py on loopback, a real SMTP inbox and its settings, and runner.py run as a user runs it.

Fixtures live in the conftest.py files and call these; tests import from here, never from a conftest."""

from __future__ import annotations

import csv
import email
import functools
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import mlflow
import pandas as pd

from sentiment_lib.alerting.smtp import SmtpConfig
from sentiment_lib.serving import process
from sentiment_lib.settings import Settings
from sentiment_lib.tracking import registry, runs

REPO = Path(__file__).resolve().parents[1]
TESTS = REPO / "tests"
SHARED_DATA = REPO.parent / "shared" / "data"
SST2 = SHARED_DATA / "sst2"
AIRLINE = SHARED_DATA / "airline" / "Tweets.csv"

# The slow tiers, each a folder of tests/; every other test file is a unit test (tests/<package>/,
# tests/test_<module>.py, tests/project/). tests/conftest.py marks each test with its tier.
SLOW_TIERS = ("integration", "notebooks", "faults", "spark", "deploy", "browser")
TIERS = ("unit", *SLOW_TIERS)

T = TypeVar("T")


def tier_of(path: Path) -> str:
    """The tier of the test file at ``path`` (under tests/): its top folder when that is a slow tier, else unit."""
    top = Path(path).resolve().relative_to(TESTS).parts[0]
    return top if top in SLOW_TIERS else "unit"


def wait_until(
    condition: Callable[[], T],
    timeout: float,
    interval: float,
    message: str | Callable[[], str],
    ignore: tuple[type[Exception], ...] = (),
) -> T:
    """Call ``condition`` every ``interval`` seconds until it returns something true, and return that.

    ``ignore``: exceptions that mean "not yet" (a server still starting refuses connections, say).

    Raises:
        AssertionError: when ``timeout`` seconds pass first; it says ``message`` (what did not happen; a callable
            is called then, to describe the state it ended in) and the last ignored error, if any.
    """
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while True:
        try:
            result = condition()
        except ignore as err:
            result, last_error = None, err
        if result:
            return result
        if time.monotonic() >= deadline:
            break
        time.sleep(interval)
    text = message() if callable(message) else message
    raise AssertionError(f"{text} within {timeout:g} s" + (f" (last error: {last_error!r})" if last_error else ""))


@functools.cache
def _read_sst2(split: str) -> pd.DataFrame:
    from sentiment_lib.data import importers

    return importers.import_sst2(SST2, splits=(split,)).frame


def sst2(split: str) -> pd.DataFrame:
    """One split of the real SST-2 (``train``, ``dev``, ``test``) as ``Review``, ``Sentiment``, in file order."""
    return _read_sst2(split).copy()


def write_sst2_sample(workspace: Path, rows: int = 800, test_rows: int = 200, seed: int = 1) -> Path:
    """A small workspace from real SST-2: ``data/raw`` training CSV and a cut of the labelled test set."""
    raw = workspace / "data" / "raw" / "sentiment_analysis.csv"
    raw.parent.mkdir(parents=True, exist_ok=True)
    sst2("train").sample(rows, random_state=seed).to_csv(raw, index=False)
    test = pd.read_csv(SST2 / "test.tsv", sep="\t", quoting=csv.QUOTE_NONE)
    cut = workspace / "sst2" / "test.tsv"
    cut.parent.mkdir(parents=True, exist_ok=True)
    test.sample(test_rows, random_state=seed).to_csv(cut, sep="\t", index=False, quoting=csv.QUOTE_NONE)
    return cut


def write_airline_sample(workspace: Path, rows: int = 150, seed: int = 1) -> Path:
    """A cut of the real airline tweets file, every column kept, as ``03_evaluate`` reads it."""
    tweets = pd.read_csv(AIRLINE).sample(rows, random_state=seed)
    cut = workspace / "airline" / "Tweets.csv"
    cut.parent.mkdir(parents=True, exist_ok=True)
    tweets.to_csv(cut, index=False)
    return cut


def child_env(**extra: str) -> dict[str, str]:
    """The environment for a child process of a test: offline, and pointed at nothing but its workspace.

    A user's own tracking settings, or ones the test process picked up, must not redirect its runs.
    """
    # a shadow challenger at nice 19, not in the idle class: the other tests keep CI's cores busy, and an idle-class
    # one could be starved past a test's wait
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "WANDB_MODE": "offline", "SENTIMENT_SERVE_SHADOW_CPU": "low"}
    for name in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI", "WANDB_DIR"):
        env.pop(name, None)
    return {**env, **extra}  # what the test itself asks for, a tracking server for one, is kept


def run_runner(
    *args: str, workspace: Path, timeout: int = 900, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """Run ``runner.py`` as a user would, in its own process, against ``workspace`` (``env``: extra variables)."""
    return subprocess.run(
        [sys.executable, str(REPO / "runner.py"), *args, "--workspace", str(workspace)],
        cwd=workspace,
        env=child_env(**(env or {})),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


NAME = Settings().registered_model_name


def calibration_texts() -> list[str]:
    return sst2("dev")["Review"].head(100).tolist()


def register_version(model_dir: Path, promote: bool = True, name: str = NAME) -> str:
    """Log and register ``model_dir`` as a new version of ``name``; optionally make it the champion."""
    with mlflow.start_run():
        version = registry.log_and_register(model_dir, name, calibration_texts(), keep_local=True)
    if promote:
        registry.promote(name, str(version.version), "test")
    return str(version.version)


def new_registry(workspace: Path, model_dir: Path, name: str = NAME) -> Path:
    """A workspace whose registry has ``model_dir`` as version 1 of ``name``, @champion."""
    runs.configure(workspace, "api-tests")
    register_version(model_dir, name=name)
    return workspace


class LiveServer:
    """``python app.py`` in its own process on a free port of ``host`` (loopback unless told otherwise)."""

    def __init__(
        self, workspace: Path, env: dict[str, str], timeout: float = 180, health: int = 200, host: str = "127.0.0.1"
    ):
        self.port = process.free_port()
        self.url = f"http://{host}:{self.port}"
        self.log = workspace / "logs" / f"live-server-{self.port}.log"
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("w") as output:
            command = ("--host", host)
            self.process = process.launch_app(workspace, self.port, command, env=child_env(**env), output=output)
        try:
            process.wait_until_healthy(self.process, self.url, timeout=timeout, where=str(self.log), status=health)
        except Exception as err:  # say why here: a CI log is all there is afterwards
            self.stop()
            raise AssertionError(f"{err}\n--- {self.log} ---\n{self.log.read_text()[-4000:]}") from None

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
        req = urllib.request.Request(self.url + path, data=body, method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=30) as response:
                return response.status, response.read(), dict(response.headers)
        except urllib.error.HTTPError as err:
            return err.code, err.read(), dict(err.headers)

    def stop(self) -> None:
        self.process.terminate()
        process.wait_or_kill(self.process, timeout=20)


def assert_serves(server: LiveServer, version: str, review: str) -> None:
    """``server`` is healthy on ``version`` and answers ``review`` with a sentiment."""
    status, body, _ = server.request("GET", "/health")
    assert status == 200 and as_json(body)["model_version"] == version
    payload = json.dumps({"review": review}).encode()
    status, body, _ = server.request("POST", "/predict", payload, {"Content-Type": "application/json"})
    assert status == 200 and as_json(body)["sentiment"] in {"positive", "negative"}


def as_json(payload: bytes):
    return json.loads(payload.decode())


def save_untrained_model(folder: Path, seed: int = 0) -> Path:
    """The packaged encoder with a seeded, untrained head, saved as a fine-tuned model would be.

    Its answers are not meaningful sentiment, which the API tests do not need; another ``seed`` gives another
    head, which answers differently.
    """
    import torch

    from sentiment_lib.settings import PACKAGED_MODEL
    from sentiment_lib.training import train

    torch.manual_seed(seed)
    tokenizer, model = train.load_pretrained(PACKAGED_MODEL)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


class Inbox:
    """aiosmtpd handler keeping every message it receives."""

    def __init__(self):
        self.messages: list[email.message.Message] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 Message accepted"

    def kinds(self) -> list[str]:
        return [m["X-Alert-Kind"] for m in self.messages]


def smtp_config(port: int, **changes: str) -> SmtpConfig:
    """Settings for a plain SMTP server on loopback (the ``smtp_server`` fixture's), sending to two recipients;
    ``changes`` are more ``ALERT_*`` variables."""
    env = {
        "ALERT_SMTP_HOST": "127.0.0.1",
        "ALERT_SMTP_PORT": str(port),
        "ALERT_EMAIL_FROM": "pipeline@example.test",
        "ALERT_EMAIL_TO": "ops@example.test, ds@example.test",
        "ALERT_SMTP_STARTTLS": "false",
        **changes,
    }
    return SmtpConfig.from_env(env)


def canonical_stream(folder: Path, rows: int) -> Path:
    """A canonical CSV of ``rows`` reviews ``text 0``, ``text 1``, ... (every third one negative)."""
    path = folder / "stream.csv"
    labels = ["positive" if i % 3 else "negative" for i in range(rows)]
    pd.DataFrame({"Review": [f"text {i}" for i in range(rows)], "Sentiment": labels}).to_csv(path, index=False)
    return path
