"""The shared tracking server on PostgreSQL, as docs/production.md ("Scaling out") documents it: a throwaway
PostgreSQL 15 server in a temporary folder (Debian's postgresql-15 binaries), `mlflow server` on it with proxied
artifacts, a model registered from one process and served by app.py in another."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from sentiment_lib.serving.process import free_port
from sentiment_lib.tracking.server import start_tracking_server
from tests.helpers import REPO, assert_serves, child_env

pytestmark = pytest.mark.slow
DEBIAN_BIN = Path("/usr/lib/postgresql/15/bin")  # where the postgresql-15 package puts them (not on PATH)


def pg_tool(name: str) -> str | None:
    found = shutil.which(name) or (DEBIAN_BIN / name if (DEBIAN_BIN / name).is_file() else None)
    return str(found) if found else None


def as_postgres_user() -> list[str]:
    # PostgreSQL refuses to run as root; as root, run its tools as the package's postgres user
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


@pytest.fixture(scope="module")
def postgres() -> Iterator[str]:
    """A PostgreSQL server on 127.0.0.1 with an empty database ``mlflow``; its URL. Stopped and removed after."""
    tools = {name: pg_tool(name) for name in ("initdb", "pg_ctl", "createdb")}
    if not all(tools.values()):
        pytest.skip(f"PostgreSQL server binaries not found ({tools}); Debian: apt-get install postgresql-15")
    folder = Path(tempfile.mkdtemp(prefix="sentiment-pg-"))  # not under pytest's root-only tmp folders
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    port, data = free_port(), folder / "data"

    def run(*command: str) -> None:
        subprocess.run([*as_postgres_user(), *command], check=True, capture_output=True, timeout=120)

    run(tools["initdb"], "-D", str(data), "-U", "mlflow", "--auth=trust", "-E", "UTF8")
    options = f"-p {port} -h 127.0.0.1 -k {folder}"
    run(tools["pg_ctl"], "-D", str(data), "-o", options, "-l", str(folder / "postgres.log"), "-w", "start")
    try:
        run(tools["createdb"], "-h", "127.0.0.1", "-p", str(port), "-U", "mlflow", "mlflow")
        yield f"postgresql://mlflow@127.0.0.1:{port}/mlflow"
    finally:
        run(tools["pg_ctl"], "-D", str(data), "-m", "fast", "stop")
        shutil.rmtree(folder, ignore_errors=True)


REGISTER = """
import sys
from pathlib import Path
from tests.helpers import new_registry
new_registry(Path(sys.argv[1]), Path(sys.argv[2]))
"""


def test_a_model_registered_on_postgres_is_served_from_another_process(postgres, small_model, tmp_path, live_server):
    server = start_tracking_server(tmp_path / "server", free_port(), backend_uri=postgres, env=child_env())
    try:
        env = {"MLFLOW_TRACKING_URI": server.url}
        ws = tmp_path / "ws"
        ws.mkdir()
        done = subprocess.run([sys.executable, "-c", REGISTER, str(ws), str(small_model)], cwd=REPO,
                              env=child_env(**env), capture_output=True, text=True, timeout=600)  # fmt: skip
        assert done.returncode == 0, done.stderr[-3000:]
        assert not (ws / "mlflow.db").exists() and not (ws / "mlartifacts").exists()
        assert list((tmp_path / "server" / "artifacts").rglob("model.int8.onnx"))  # behind the server's proxy
        api = live_server(ws, env=env)
        assert_serves(api, "1", "a fine film")
    finally:
        server.stop()
