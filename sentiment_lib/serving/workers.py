"""``app.py --workers N``: N server processes on one port.

The parent binds the listening socket once and starts N copies of ``app.py`` that inherit it (``--socket-fd``);
the kernel hands each new connection to whichever is waiting in ``accept``. Each worker loads the model,
follows ``@champion`` and writes its own served log (its replica id holds its pid) and its own metrics files
(``PROMETHEUS_MULTIPROC_DIR``, a fresh folder per run, so /metrics adds up every worker). The parent supervises:
a worker that dies is started again (and logged), and SIGTERM or Ctrl-C stops them all.

Processes rather than more threads: a model call holds the GIL for its Python parts (tokenising, padding),
so one process tops out below what the cores can do (docs/results.md, bench_api).
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Sequence

from sentiment_lib.inference.cpu import usable_cores
from sentiment_lib.serving.metrics import MULTIPROC_ENV
from sentiment_lib.serving.process import wait_or_kill
from sentiment_lib.settings.runtime import runtime, tools

log = logging.getLogger(__name__)

RESTART_PAUSE_SECONDS = 1.0  # between restarts of a worker that keeps dying, so a crash loop does not spin


def bind(host: str, port: int) -> socket.socket:
    """The listening socket every worker shares (inheritable)."""
    listener = socket.create_server((host, port), backlog=1024, reuse_port=False)
    listener.set_inheritable(True)
    return listener


def threads_per_worker(workers: int) -> str:
    """Inference threads for each worker: the cores shared out, unless ``SENTIMENT_THREADS`` says."""
    return str(runtime().threads or max(1, usable_cores() // workers))


class Workers:
    """N server processes serving ``listener``; ``command`` starts one with the parent's own options."""

    def __init__(self, listener: socket.socket, count: int, command: Sequence[str]):
        self.listener, self.count = listener, count
        self.command = [*command, "--socket-fd", str(listener.fileno())]
        # a folder of the user's own is kept; ours is made empty per run (stale counters would be added in)
        users_dir = tools().prometheus_multiproc_dir
        self.own_metrics_dir = None if users_dir else tempfile.mkdtemp(prefix="sentiment-metrics-")
        metrics_dir = users_dir or self.own_metrics_dir
        self.env = {**os.environ, "SENTIMENT_THREADS": threads_per_worker(count), MULTIPROC_ENV: str(metrics_dir)}
        self.processes: list[subprocess.Popen] = []
        self.stopping = False

    def start_one(self) -> subprocess.Popen:
        process = subprocess.Popen(self.command, env=self.env, pass_fds=(self.listener.fileno(),))
        log.info("Worker started (pid %d)", process.pid)
        return process

    def run(self) -> int:
        """Start the workers and keep them running until SIGTERM or SIGINT; return 0."""
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        self.processes = [self.start_one() for _ in range(self.count)]
        while not self.stopping:
            for n, process in enumerate(self.processes):
                if process.poll() is not None and not self.stopping:
                    log.error("Worker pid %d exited with status %s; starting another", process.pid, process.returncode)
                    time.sleep(RESTART_PAUSE_SECONDS)
                    self.processes[n] = self.start_one()
            time.sleep(0.5)
        return self._wait_for_all()

    def _stop(self, signum: int, frame: object) -> None:
        self.stopping = True
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)

    def _wait_for_all(self) -> int:
        for process in self.processes:
            wait_or_kill(process)
        self.listener.close()
        if self.own_metrics_dir:
            shutil.rmtree(self.own_metrics_dir, ignore_errors=True)
        return 0
