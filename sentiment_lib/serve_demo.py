"""Start ``app.py`` in the background for the demo, wait until it is healthy, and show a working call."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from sentiment_lib.errors import SentimentError

REPO_ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = {"review": "A warm, funny and beautifully acted film."}


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


def _wait_healthy(process: subprocess.Popen, base: str, log_path: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SentimentError(f"app.py exited with status {process.returncode}; see {log_path}")
        try:
            if _get(f"{base}/health") == 200:
                return
        except OSError:
            pass  # not listening yet
        time.sleep(0.5)
    raise SentimentError(f"app.py did not become healthy within {timeout:.0f} s; see {log_path}")


def start_in_background(workspace: Path, port: int) -> str:
    """Start the server detached (pid in ``logs/app.pid``), call it once, and return what to tell the user.

    Raises:
        SentimentError: the port is taken, or the server does not become healthy.
    """
    base = f"http://127.0.0.1:{port}"
    try:
        _get(f"{base}/health")
        raise SentimentError(f"Something already listens on {base}: stop it (make stop) or pass --port")
    except OSError:
        pass
    logs = workspace / "logs"
    logs.mkdir(exist_ok=True)
    log_path = logs / "app.log"
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, str(REPO_ROOT / "app.py"), "--port", str(port), "--workspace", str(workspace)],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # keeps serving after the demo's shell returns
        )
    (logs / "app.pid").write_text(str(process.pid))
    _wait_healthy(process, base, log_path)
    curl = f"curl -s -X POST {base}/predict -H 'Content-Type: application/json' -d '{json.dumps(EXAMPLE)}'"
    return (
        f"\nThe API is running on {base} (pid {process.pid}, log {log_path}; stop it with `make stop`).\n"
        f"Try it:\n  {curl}\n  -> {_post(f'{base}/predict', EXAMPLE)}"
    )
