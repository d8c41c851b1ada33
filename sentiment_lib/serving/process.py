"""Start the API server (``app.py``, ``sentiment serve``) as its own process and wait until it is healthy (the
demo, the tests, the benchmarks)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from sentiment_lib.errors import SentimentError
from sentiment_lib.io import write_text_atomic
from sentiment_lib.workspace import Workspace

EXAMPLE = {"review": "A warm, funny and beautifully acted film."}
SERVER_MODULE = "sentiment_lib.serving.main"  # what app.py and `sentiment serve` run


def server_command() -> list[str]:
    """How to start the API server as a process with this interpreter (app.py's workers, the demo, the tests):
    the installed package's module, so no checkout is needed."""
    return [sys.executable, "-m", SERVER_MODULE]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status
    except urllib.error.HTTPError as err:
        return err.code


def _post(url: str, payload: dict) -> str:
    request = urllib.request.Request(
        url, data=json.dumps(payload).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.read().decode()


def launch_app(
    workspace: Path,
    port: int,
    extra_args: tuple[str, ...] = (),
    env: dict | None = None,
    output=None,
    detach=False,
    app: Path | None = None,
) -> subprocess.Popen:
    """The API server (this package's, or ``app``: another checkout's app.py) on 127.0.0.1:``port`` in a new
    process (``detach``: its own session)."""
    server = [sys.executable, str(app)] if app else server_command()
    command = [*server, "--port", str(port), "--workspace", str(workspace)]
    return subprocess.Popen(
        [*command, *extra_args],
        env=env,
        stdout=output if output is not None else subprocess.DEVNULL,
        stderr=subprocess.STDOUT if output is not None else subprocess.DEVNULL,
        start_new_session=detach,
    )


def wait_or_kill(process: subprocess.Popen, timeout: float = 30) -> None:
    """Wait for a process already asked to stop; SIGKILL it if it has not within ``timeout`` seconds."""
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def wait_until_healthy(
    process: subprocess.Popen,
    base: str,
    where: str = "its log",
    timeout: float = 120,
    name: str = "app.py",
    status: int = 200,
) -> None:
    """Poll ``/health`` until it answers ``status`` (503: up, but with no model to serve).

    Raises:
        SentimentError: the process exits, or ``/health`` does not answer ``status`` within ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SentimentError(f"{name} exited with status {process.returncode}; see {where}")
        try:
            if _get(f"{base}/health") == status:
                return
        except OSError:
            pass  # not listening yet
        time.sleep(0.5)
    state = "become healthy" if status == 200 else f"answer {status} on /health"
    raise SentimentError(f"{name} did not {state} within {timeout:.0f} s; see {where}")


def _reachable(host: str) -> str:
    """The address to call a server bound to ``host`` on, from this machine, as a URL writes it."""
    if host in ("", "0.0.0.0", "::"):  # every interface: loopback is one of them
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


def start_in_background(
    workspace: Workspace,
    port: int,
    options: Sequence[str] = (),
    host: str = "127.0.0.1",
    log_file: Path | None = None,
) -> str:
    """Start the server detached (pid in ``logs/app.pid``), call it once, and return what to tell the user.

    ``options`` are more of the server's own (``--host``, ``--threads``, ...); ``host`` is the one among them
    the server binds, and ``log_file`` where it logs (default: ``logs/app.log``).

    Raises:
        SentimentError: the port is taken, or the server does not become healthy.
    """
    base = f"http://{_reachable(host)}:{port}"
    try:
        _get(f"{base}/health")
        raise SentimentError(f"Something already listens on {base}: stop it (make stop) or pass --port")
    except OSError:
        pass
    log_file = log_file or workspace.app_log
    workspace.logs.mkdir(parents=True, exist_ok=True)
    # the app writes and rotates its log itself; its own stdout and stderr (a crash before logging starts, or
    # a library printing) go to app.stderr, which a rotation cannot move from under an open descriptor
    with workspace.app_stderr.open("ab") as output:
        # its own session: it keeps serving after the demo's shell returns
        arguments = (*options, "--log-file", str(log_file))
        process = launch_app(workspace.root, port, arguments, output=output, detach=True)
    write_text_atomic(workspace.app_pid, str(process.pid))
    wait_until_healthy(process, base, f"{log_file} and {workspace.app_stderr}")
    curl = f"curl -s -X POST {base}/predict -H 'Content-Type: application/json' -d '{json.dumps(EXAMPLE)}'"
    return (
        f"\nThe API is running on {base} (pid {process.pid}, log {log_file}; stop it with `make stop`).\n"
        f"Try it:\n  {curl}\n  -> {_post(f'{base}/predict', EXAMPLE)}"
    )
