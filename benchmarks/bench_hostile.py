"""One hostile client against the real server: what it costs the service, today's code against a git ref.

    .venv/bin/python benchmarks/bench_hostile.py [--baseline-ref REF] [--loop-seconds 300] [--budget-mb 5]

Starts `python app.py` (an untrained head on the packaged encoder: the same inference cost as a trained
model) on a fresh workspace and measures, one probe after the other:

    idle       /predict latency (median of 5) while 100 connections are held open, silent
    dripping   the same while 100 connections each send one byte of a request line every 0.3 s
    wide CSV   a 400 KB text/csv body whose header is Review plus 200,000 empty columns: status, seconds,
               server RSS growth
    big batch  1,000 reviews of 4,998 characters as JSON: status and seconds
    log loop   one client looping on the largest batch the server accepts for --loop-seconds; bytes the
               served log grew, against its daily budget (--budget-mb, set for both servers)

With `--baseline-ref`, the same probes run first against app.py of that ref (a temporary worktree, same
machine and virtual environment). Prints the machine and one markdown table. A probe that waits longer
than its timeout is reported as such.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from contextlib import ExitStack, suppress
from pathlib import Path
from statistics import median

from common import REPO, checkout, rss_mb

from sentiment_lib.serving import process as serve_process

PREDICT = json.dumps({"review": "The room was clean and the staff were kind."}).encode()
JSON = {"Content-Type": "application/json"}
WIDE_CSV = ("Review" + "," * 200_000 + "\n" + "fine" + "," * 200_000 + "\n").encode()


def post(base: str, path: str, body: bytes, headers: dict, timeout: float) -> tuple[int | str, float]:
    started = time.perf_counter()
    request = urllib.request.Request(base + path, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            answer.read()
            status: int | str = answer.status
    except urllib.error.HTTPError as err:
        status = err.code
    except OSError:
        status = f"no answer in {timeout:g} s"
    return status, time.perf_counter() - started


def predict_latency(base: str) -> str:
    answers = [post(base, "/predict", PREDICT, JSON, timeout=10) for _ in range(5)]
    statuses = {status for status, _ in answers}
    return f"{median(seconds for _, seconds in answers) * 1000:,.0f} ms (status {', '.join(map(str, statuses))})"


def with_connections(port: int, base: str, drip: bool) -> str:
    held = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(100)]
    stop = threading.Event()

    def dripping() -> None:
        for byte in b"POST /predict HTTP/1.1\r\nHost: x\r\n":
            if stop.wait(0.3):
                return
            for connection in held:
                with suppress(OSError):  # the server closed it: the probe goes on with the rest
                    connection.send(bytes([byte]))

    worker = threading.Thread(target=dripping, daemon=True)
    if drip:
        worker.start()
    try:
        time.sleep(1.0)
        return predict_latency(base)
    finally:
        stop.set()
        worker.join(timeout=5) if drip else None
        for connection in held:
            connection.close()


def wide_csv(base: str, pid: int) -> str:
    before = rss_mb(pid)
    status, seconds = post(base, "/batch_predict", WIDE_CSV, {"Content-Type": "text/csv"}, timeout=120)
    return f"{status} in {seconds * 1000:,.0f} ms, RSS {rss_mb(pid) - before:+,.0f} MB"


def big_batch(base: str) -> str:
    body = json.dumps({"reviews": ["a long review " * 357] * 1000}).encode()
    status, seconds = post(base, "/batch_predict", body, JSON, timeout=300)
    return f"{status} in {seconds:,.1f} s"


def log_loop(base: str, served: Path, seconds: float, budget_mb: float) -> str:
    """Loop on the largest batch accepted: 1,000 x 4,998 characters, or, if refused, 1,000 x 499."""
    batches = [["a long review " * 357] * 1000, ["a short review " * 33] * 1000]
    body = next(json.dumps({"reviews": b}).encode() for b in batches if post(base, "/batch_predict",
                json.dumps({"reviews": b}).encode(), JSON, 300)[0] == 200)  # fmt: skip
    before = sum(p.stat().st_size for p in served.glob("*.jsonl"))
    deadline, calls = time.perf_counter() + seconds, 0
    while time.perf_counter() < deadline:
        post(base, "/batch_predict", body, JSON, timeout=300)
        calls += 1
    grown = (sum(p.stat().st_size for p in served.glob("*.jsonl")) - before) / 1024 / 1024
    return f"{calls} batches, log +{grown:,.1f} MB (budget {budget_mb:g} MB/day)"


def measure(app: Path | None, model_workspace: Path, args: argparse.Namespace) -> dict[str, str]:
    with tempfile.TemporaryDirectory(prefix="bench-hostile-") as folder:
        workspace = Path(folder) / "ws"
        shutil.copytree(model_workspace, workspace)
        port = serve_process.free_port()
        base = f"http://127.0.0.1:{port}"
        env = {**os.environ, "SENTIMENT_SERVE_REFRESH_SECONDS": "0"}
        env["SENTIMENT_SERVED_LOG_MAX_MB_PER_DAY"] = str(args.budget_mb)
        with (workspace / "app.log").open("wb") as log, ExitStack() as stack:
            server = serve_process.launch_app(workspace, port, env=env, output=log, app=app)
            stack.callback(serve_process.wait_or_kill, server)
            stack.callback(server.terminate)
            serve_process.wait_until_healthy(server, base, str(workspace / "app.log"), timeout=300)
            post(base, "/predict", PREDICT, JSON, timeout=30)  # warm-up
            return {
                "/predict alone": predict_latency(base),
                "/predict beside 100 idle connections": with_connections(port, base, drip=False),
                "/predict beside 100 dripping connections": with_connections(port, base, drip=True),
                "200,000-column CSV (400 KB)": wide_csv(base, server.pid),
                "1,000 x 4,998-character batch": big_batch(base),
                f"client looping on the largest batch, {args.loop_seconds:g} s": log_loop(
                    base, workspace / "logs" / "served", args.loop_seconds, args.budget_mb
                ),
            }


def model_workspace(folder: Path) -> Path:
    """A workspace whose registry serves the packaged encoder with an untrained head as @champion."""
    sys.path.insert(0, str(REPO))
    from tests.helpers import new_registry, save_untrained_model

    return new_registry(folder / "ws", save_untrained_model(folder / "model"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline-ref", help="also measure app.py of this git ref, first")
    parser.add_argument("--loop-seconds", type=float, default=300.0)
    parser.add_argument("--budget-mb", type=float, default=5.0, help="served-log budget a day, for both servers")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    for name in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI"):
        os.environ.pop(name, None)
    with tempfile.TemporaryDirectory(prefix="bench-hostile-model-") as folder:
        registry = model_workspace(Path(folder))
        columns = {}
        if args.baseline_ref:
            with checkout(args.baseline_ref) as code:
                columns[args.baseline_ref] = measure(code / "app.py", registry, args)
        columns["this checkout"] = measure(None, registry, args)
    print(f"\nMachine: {platform.machine()}, {os.cpu_count()} cores, {platform.system()} {platform.release()}")
    print("\n| probe | " + " | ".join(columns) + " |")
    print("|---|" + "---|" * len(columns))
    for probe in next(iter(columns.values())):
        print(f"| {probe} | " + " | ".join(column[probe] for column in columns.values()) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
