"""A Spark standalone cluster on loopback (one master, N workers), started from the pyspark package's own
launch classes: the real cluster path on one machine, for the tests, ``bench_spark.py`` and trying
``--master spark://...`` before a real cluster. Nothing here is needed to use a cluster someone else runs.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType

from sentiment_lib.errors import ConfigError
from sentiment_lib.serving.process import free_port, wait_or_kill

MASTER_CLASS = "org.apache.spark.deploy.master.Master"
WORKER_CLASS = "org.apache.spark.deploy.worker.Worker"


def spark_home() -> Path:
    """The pyspark package's folder, which holds Spark's jars and ``bin/spark-class``."""
    import pyspark

    return Path(pyspark.__file__).parent


def require_java() -> str:
    """The ``java`` on PATH.

    Raises:
        ConfigError: no Java, with what to install.
    """
    java = shutil.which("java")
    if java is None:
        raise ConfigError("Spark needs Java 17 or newer: install it (Debian: apt-get install openjdk-17-jre-headless)")
    return java


class LocalSparkCluster:
    """``with LocalSparkCluster(folder, workers=2) as master_url:`` runs a job on a real standalone cluster."""

    def __init__(self, folder: Path, workers: int = 2, cores_per_worker: int = 1, memory: str = "1g"):
        self.folder = Path(folder)
        self.workers, self.cores, self.memory = workers, cores_per_worker, memory
        self.port, self.ui_port = free_port(), free_port()
        self.processes: list[subprocess.Popen] = []

    @property
    def master_url(self) -> str:
        return f"spark://127.0.0.1:{self.port}"

    def __enter__(self) -> str:
        require_java()
        self.folder.mkdir(parents=True, exist_ok=True)
        try:
            self._launch("master", MASTER_CLASS, "--host", "127.0.0.1", "--port", str(self.port))
            for n in range(self.workers):
                self._launch(f"worker-{n}", WORKER_CLASS, *self._worker_options(n), self.master_url)
            self._wait_for_workers(timeout=120)
        except BaseException:
            self.stop()
            raise
        return self.master_url

    def __exit__(self, kind: type | None, error: BaseException | None, trace: TracebackType | None) -> None:
        self.stop()

    def _worker_options(self, n: int) -> list[str]:
        work = self.folder / f"worker-{n}"
        return ["--host", "127.0.0.1", "--cores", str(self.cores), "--memory", self.memory,
                "--webui-port", str(free_port()), "--work-dir", str(work)]  # fmt: skip

    def _launch(self, name: str, java_class: str, *args: str) -> None:
        home = spark_home()
        env = {**os.environ, "SPARK_HOME": str(home), "SPARK_LOCAL_IP": "127.0.0.1", "SPARK_NO_DAEMONIZE": "1"}
        if java_class == MASTER_CLASS:
            args = (*args, "--webui-port", str(self.ui_port))
        command = [str(home / "bin" / "spark-class"), java_class, *args]
        with (self.folder / f"{name}.log").open("wb") as log:
            self.processes.append(subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT))

    def alive_workers(self) -> int:
        """Workers registered with the master, from its status page (0 while it is starting)."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.ui_port}/json/", timeout=5) as answer:
                return int(json.load(answer).get("aliveworkers", 0))
        except (urllib.error.URLError, OSError, ValueError):
            return 0

    def _wait_for_workers(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while self.alive_workers() < self.workers:
            dead = [p.args[1] for p in self.processes if p.poll() is not None]  # type: ignore[index]  # _launch: a list
            if dead or time.monotonic() > deadline:
                logs = ", ".join(str(p) for p in sorted(self.folder.glob("*.log")))
                raise RuntimeError(f"The Spark cluster did not start ({dead or 'timed out'}); see {logs}")
            time.sleep(0.5)

    def stop(self) -> None:
        """Stop the workers, then the master."""
        for process in reversed(self.processes):
            process.terminate()
        for process in self.processes:
            wait_or_kill(process)
        self.processes.clear()
