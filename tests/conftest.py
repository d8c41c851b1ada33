"""Shared fixtures: paths to the real data sets and small workspaces made from them."""

from __future__ import annotations

import csv
import functools
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
SST2 = SHARED_DATA / "sst2"
AIRLINE = SHARED_DATA / "airline" / "Tweets.csv"


@functools.cache
def _read_sst2(split: str) -> pd.DataFrame:
    from sentiment_lib import importers

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
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "WANDB_MODE": "offline", **extra}
    for name in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI", "WANDB_DIR"):
        env.pop(name, None)
    return env


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


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("TQDM_DISABLE", "1")
