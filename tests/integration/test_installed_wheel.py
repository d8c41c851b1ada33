"""The project as an operator installs it: a wheel built from the checkout's files, installed (not editable) into
a new virtualenv outside the repository, then the smoke pipeline, ``sentiment serve`` and ``sentiment once`` run
from a workspace named only by ``SENTIMENT_WORKSPACE``.

The new virtualenv sees the pinned lock's packages through a ``.pth`` file (installing torch and the rest again
would take minutes and the network), and pip installs the wheel with ``--no-index``: a dependency range that the
lock does not satisfy fails the install here. A real install also puts nbconvert's templates under the
virtualenv's ``share/jupyter``, so that folder is linked too; the lock's kernel specs are not (they would run the
checkout's interpreter).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import urllib.request
from pathlib import Path

import nbformat
import pytest

from sentiment_lib.serving import process
from tests.helpers import REPO, child_env, write_airline_sample, write_sst2_sample

pytestmark = pytest.mark.slow


def tracked_copy(destination: Path) -> Path:
    """The checkout's tracked files as they are on disk (what a fresh clone has), symlinks kept."""
    names = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout
    for name in filter(None, names.decode().split("\0")):
        source, target = REPO / name, destination / name
        if not source.exists() and not source.is_symlink():
            continue  # deleted in the working tree, not yet committed
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_symlink():
            target.symlink_to(os.readlink(source))
        else:
            shutil.copy2(source, target)
    return destination


def build_wheel(source: Path, out: Path) -> Path:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(source)],
        check=True,
        capture_output=True,
    )
    (wheel,) = out.glob("sentiment_lib-*.whl")
    return wheel


def new_virtualenv(folder: Path) -> Path:
    """A virtualenv without pip whose only extra packages are the lock's (read-only, through a .pth file)."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True)
    python = folder / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    Path(purelib, "pinned_lock.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    templates = folder / "share" / "jupyter" / "nbconvert"
    templates.parent.mkdir(parents=True)
    templates.symlink_to(Path(sysconfig.get_paths()["data"]) / "share" / "jupyter" / "nbconvert")
    return python


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    root = tmp_path_factory.mktemp("installed")
    wheel = build_wheel(tracked_copy(root / "source"), root / "dist")
    python = new_virtualenv(root / "venv")
    done = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-index", "-q", str(wheel)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    shutil.rmtree(root / "source")  # nothing of the checkout is left to fall back on
    return python


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    ws = tmp_path_factory.mktemp("operator-workspace")
    write_sst2_sample(ws)
    write_airline_sample(ws)
    return ws


def sentiment(python: Path, ws: Path, *args: str, timeout: int = 900) -> subprocess.CompletedProcess:
    """The installed ``sentiment`` command, run from a folder that is not the workspace (the variable names it)."""
    return subprocess.run(
        [str(python.with_name("sentiment")), *args],
        cwd=ws.parent,
        env=child_env(SENTIMENT_WORKSPACE=str(ws)),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_the_wheel_is_what_runs(installed, tmp_path):
    script = "import sentiment_lib.notebooks as n; print(n.__file__); print(n.notebook_path('train'))"
    where = subprocess.run(
        [str(installed), "-c", script],
        cwd=tmp_path,
        env=child_env(),
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    venv = installed.parent.parent
    assert all(Path(path).is_relative_to(venv) for path in where), where
    assert Path(where[1]).is_file()
    help_text = subprocess.run(
        [str(installed.with_name("sentiment")), "--help"], env=child_env(), capture_output=True, text=True, check=True
    ).stdout
    for command in ("pipeline", "serve", "once", "loop", "promote", "batch", "import-data"):
        assert command in help_text


def test_pipeline_serve_and_once_from_the_installed_package(installed, workspace):
    overrides = ("-p", "sst2_test_path", "sst2/test.tsv", "-p", "airline_test_path", "airline/Tweets.csv")
    done = sentiment(installed, workspace, "pipeline", "--preset", "smoke", "--cycle", "c1", *overrides)
    assert done.returncode == 0, done.stderr[-3000:]
    executed = nbformat.read(workspace / "reports" / "c1" / "02_train.ipynb", as_version=4)
    assert Path(executed.metadata.papermill.input_path).is_relative_to(installed.parent.parent)
    assert (workspace / "reports" / "c1" / "03_evaluate.html").is_file()
    assert (workspace / "mlflow.db").is_file() and not (workspace.parent / "mlflow.db").exists()

    port = process.free_port()
    log = workspace / "serve.log"
    with log.open("w") as output:
        server = subprocess.Popen(
            [str(installed.with_name("sentiment")), "serve", "--port", str(port)],
            cwd=workspace.parent,
            env=child_env(SENTIMENT_WORKSPACE=str(workspace)),
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        process.wait_until_healthy(server, f"http://127.0.0.1:{port}", where=str(log))
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/predict",
            data=json.dumps({"review": "Friendly staff and a spotless room."}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            answer = json.loads(response.read())
        assert response.status == 200 and answer["sentiment"] in ("positive", "negative")
        assert answer["model_version"] == "1"
    finally:
        server.terminate()
        process.wait_or_kill(server)

    done = sentiment(installed, workspace, "once", "--preset", "smoke", *overrides)
    assert done.returncode == 0, done.stderr[-3000:]
    verdicts = sorted((workspace / "reports").glob("*/verdict.json"))
    assert len(verdicts) == 1 and json.loads(verdicts[0].read_text())["status"]
