"""The workspace's SQLite store is created whole or not at all: a command killed while MLflow builds its tables
must not leave a file that every later command fails on (found by the killed-cycle fault test)."""

from __future__ import annotations

import functools
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sentiment_lib.tracking import runs
from tests.helpers import REPO, child_env


def tables(path) -> set[str]:
    with sqlite3.connect(path) as db:
        return {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def schema(path) -> tuple[set[str], list]:
    """The tables and the migration MLflow recorded as applied last."""
    with sqlite3.connect(path) as db:
        return tables(path), db.execute("SELECT version_num FROM alembic_version").fetchall()


@functools.cache
def complete_schema() -> tuple[frozenset[str], tuple]:
    """What a store created without interruption holds (MLflow's current schema)."""
    with tempfile.TemporaryDirectory() as folder:
        subprocess.run([sys.executable, "-c", first_command(folder)], cwd=REPO, env=child_env(), check=True)
        names, version = schema(Path(folder) / "mlflow.db")
    return frozenset(names), tuple(version)


def first_command(folder) -> str:
    """The first command of a workspace: point MLflow at it and read it, which creates the store."""
    return (
        f"import mlflow; from sentiment_lib.tracking import runs; runs.configure_client({str(folder)!r}); "
        "mlflow.search_experiments()"
    )


def is_complete(path) -> bool:
    names, version = schema(path)
    expected_names, expected_version = complete_schema()
    return names == expected_names and tuple(version) == expected_version and len(version) == 1


def test_the_first_command_creates_a_complete_store_and_leaves_no_partial_file(tmp_path):
    runs.configure_client(tmp_path)
    assert is_complete(tmp_path / "mlflow.db")
    assert [p.name for p in tmp_path.iterdir()] == ["mlflow.db"]


def test_an_existing_store_is_left_as_it_is(tmp_path):
    runs.configure_client(tmp_path)
    with sqlite3.connect(tmp_path / "mlflow.db") as db:
        db.execute("CREATE TABLE operator_note (text TEXT)")
    runs.create_local_store(tmp_path / "mlflow.db", tmp_path / "mlartifacts")
    assert "operator_note" in tables(tmp_path / "mlflow.db")


def test_a_process_killed_while_creating_the_store_leaves_none_or_a_complete_one(tmp_path):
    rng = random.Random(7)
    create = first_command(tmp_path)
    for _ in range(6):
        (tmp_path / "mlflow.db").unlink(missing_ok=True)
        child = subprocess.Popen([sys.executable, "-c", create], cwd=REPO, env=child_env())
        time.sleep(rng.uniform(1.0, 4.0))  # importing mlflow takes a second or two; the tables take about one more
        child.send_signal(signal.SIGKILL)
        child.wait()
        store = tmp_path / "mlflow.db"
        assert not store.exists() or is_complete(store)
    runs.configure_client(tmp_path)  # and the next command always gets a working store
    assert is_complete(tmp_path / "mlflow.db")
