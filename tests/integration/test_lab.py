"""``make lab``'s server, started as the Makefile starts it: loopback only, the token it prints opens it, the
pipeline's kernel is listed, and a notebook opens; nothing answers without the token."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import urllib.error
import urllib.request

import pytest

from sentiment_lib.serving.process import free_port
from tests.helpers import REPO, child_env, wait_until

pytestmark = pytest.mark.slow


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()
    except urllib.error.URLError:
        return 0, b""  # not listening yet


@pytest.fixture()
def lab(tmp_path):
    port = free_port()
    env = child_env(JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"), JUPYTER_CONFIG_DIR=str(tmp_path / "config"))
    env.pop("JUPYTER_TOKEN", None)
    server = subprocess.Popen(
        [sys.executable, "-m", "sentiment_lib.lab", "--port", str(port)],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        printed = server.stdout.readline()
        url = re.search(r"http://127\.0\.0\.1:\d+/lab/tree/notebooks\?token=(\S+)", printed)
        assert url, printed
        base, token = f"http://127.0.0.1:{port}", url.group(1)
        wait_until(
            lambda: server.poll() is not None or get(f"{base}/api/status?token={token}")[0] == 200,
            90,
            0.5,
            "JupyterLab did not start",
        )
        assert server.poll() is None, f"JupyterLab did not start: it exited with status {server.returncode}"
        yield base, token
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()


def test_lab_lists_the_pipeline_kernel_and_opens_a_notebook(lab):
    base, token = lab
    status, body = get(f"{base}/api/kernelspecs?token={token}")
    assert status == 200 and "sentiment-pipeline" in json.loads(body)["kernelspecs"]
    status, body = get(f"{base}/api/contents/notebooks/05_explore.ipynb?token={token}")
    notebook = json.loads(body)
    assert status == 200 and notebook["content"]["metadata"]["kernelspec"]["name"] == "sentiment-pipeline"
    assert get(f"{base}/lab/tree/notebooks/05_explore.ipynb?token={token}")[0] == 200
    assert get(f"{base}/api/kernelspecs")[0] == 403  # no token, no entry
