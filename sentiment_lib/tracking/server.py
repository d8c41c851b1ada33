"""A shared MLflow tracking server: one registry for the runner host, every API replica and Spark.

``mlflow server`` with a database backend (a SQLite file by default; PostgreSQL for several writers) and
proxied artifacts (``--serve-artifacts --artifacts-destination``): clients upload and download models
through the server, so a model registered on one host loads on every other.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from sentiment_lib.serving.process import wait_or_kill, wait_until_healthy

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 5001
DEFAULT_FOLDER = "tracking"
STORE_FILE = "tracking.db"
ARTIFACTS = "artifacts"


def default_backend(folder: str | Path) -> str:
    return f"sqlite:///{Path(folder).resolve() / STORE_FILE}"


def server_command(
    folder: str | Path,
    backend_uri: str | None = None,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    workers: int = 1,
) -> list[str]:
    """The ``mlflow server`` command line: ``backend_uri`` (default: a SQLite file in ``folder``) for runs
    and the registry, ``folder/artifacts`` for the artifacts it proxies."""
    folder = Path(folder).resolve()
    return [
        str(Path(sys.executable).with_name("mlflow")),
        "server",
        *("--backend-store-uri", backend_uri or default_backend(folder)),
        "--serve-artifacts",
        *("--artifacts-destination", str(folder / ARTIFACTS)),
        *("--host", host, "--port", str(port), "--workers", str(workers)),
    ]


@dataclass
class TrackingServer:
    """A server started in the background (tests, benchmarks); ``url`` is what MLFLOW_TRACKING_URI takes."""

    process: subprocess.Popen
    url: str
    log: Path

    def stop(self) -> None:
        self.process.terminate()
        wait_or_kill(self.process)


def start_tracking_server(
    folder: str | Path, port: int, backend_uri: str | None = None, env: dict[str, str] | None = None
) -> TrackingServer:
    """Start ``mlflow server`` on 127.0.0.1:``port`` and wait until it answers ``/health``.

    Raises:
        SentimentError: it exits or does not answer within two minutes (its log says why).
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    log = folder / "server.log"
    with log.open("ab") as out:
        command = server_command(folder, backend_uri, port=port)
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://{DEFAULT_HOST}:{port}"
    try:
        wait_until_healthy(process, url, where=str(log), name="mlflow server")
    except BaseException:
        TrackingServer(process, url, log).stop()
        raise
    return TrackingServer(process, url, log)
