"""The HTTP API under load, on this machine: starts `python app.py` itself and measures it, one run.

    .venv/bin/python benchmarks/bench_api.py [--workspace .] [--requests 3000]

For the server without micro-batching (the baseline: each request calls the model on its own), with it
(the default), and with it in 2 worker processes (``--workers 2``): sequential /predict latency p50/p99,
requests/s and p99 with 16 concurrent clients (keep-alive connections, bounded request count), errors,
and the resident memory of the server and its workers. The first row is the reference: the champion's
predictor alone in this process, on the same sentences in calls of 16 (a micro-batch when 16 clients wait
at once; the batcher can hand it up to 32), no HTTP. The last row is the default server behind a real nginx
with deploy/nginx/sentiment.conf (Debian's nginx; skipped if it is not installed), whose per-address request
rate is lifted for the run: the 16 clients all come from 127.0.0.1, and 20 requests/s would be the whole story.

A second table measures shadow scoring (``--shadow``; ``--shadow-only`` runs that table alone): the champion's
files are registered twice in a scratch registry, as version 1 (``@champion``) and version 2 (``@challenger``),
and the default server runs with ``SENTIMENT_SERVE_SHADOW_SHARE`` 0 (off), 0.1 (the default) and 1 (every
text) in turn, in the same run; /predict p99 with 16 clients for each says whether the challenger in the shadow
changes the champion's latency.

    .venv/bin/python benchmarks/bench_api.py --shadow-only --requests 800     # the smallest useful run
    .venv/bin/python benchmarks/bench_api.py --shadow-only --rounds 6        # off / on differences, with the noise

With ``--rounds N`` the servers run N times, forward and backward in turn, and a last table gives each one's p99
at 16 clients over the rounds and its difference from the same round's server without shadow scoring, beside
the spread of that server's own p99 from round to round. ``--shadow-cpu idle,low`` measures the challenger's
process in each CPU class (``SENTIMENT_SERVE_SHADOW_CPU``; default: idle, what the API runs by default).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import mlflow
from common import champion_dir, print_table, rss_mb, sst2_test

from sentiment_lib.inference.predictor import SentimentPredictor
from sentiment_lib.serving import process as serve_demo
from sentiment_lib.tracking import registry, runs
from sentiment_lib.workspace import Workspace

CLIENTS = 16
WORKER_LOAD_SECONDS = 20


SHADOW_SHARES = (0.1, 1.0)  # the default, every text; each beside the server with shadow scoring off
SHADOW_LOAD_SECONDS = 300
SERVERS = [
    ("one model call per request (baseline)", ("--no-micro-batching",)),
    ("micro-batching (default)", ()),
    ("micro-batching, --workers 2", ("--workers", "2")),
]


def start_server(
    workspace: Path, port: int, extra: tuple[str, ...], env_extra: dict[str, str] | None = None
) -> subprocess.Popen:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "SENTIMENT_SERVE_REFRESH_SECONDS": "0", **(env_extra or {})}
    process = serve_demo.launch_app(workspace, port, extra, env=env)
    serve_demo.wait_until_healthy(process, f"http://127.0.0.1:{port}")
    if "--workers" in extra:
        time.sleep(WORKER_LOAD_SECONDS)  # /health answers as soon as one worker is up; let the others load
    return process


def run_client(port: int, texts: list[str], latencies: list[float], errors: list[int]) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    for text in texts:
        started = time.perf_counter()
        conn.request("POST", "/predict", json.dumps({"review": text}), {"Content-Type": "application/json"})
        response = conn.getresponse()
        response.read()
        latencies.append((time.perf_counter() - started) * 1000)
        if response.status != 200:
            errors.append(response.status)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]


def measure(port: int, texts: list[str], total: int) -> dict[str, float]:
    warm, errors = [], []
    run_client(port, texts[:50], warm, errors)
    sequential: list[float] = []
    run_client(port, texts[:500], sequential, errors)
    latencies: list[float] = []
    share = [[texts[(c * 997 + i) % len(texts)] for i in range(total // CLIENTS)] for c in range(CLIENTS)]
    threads = [threading.Thread(target=run_client, args=(port, s, latencies, errors)) for s in share]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    return {
        "p50": percentile(sequential, 50),
        "p99": percentile(sequential, 99),
        "rps": len(latencies) / elapsed,
        "c_p99": percentile(latencies, 99),
        "errors": len(errors),
    }


def predictor_rate(workspace: Path, texts: list[str], per_call: int = CLIENTS) -> float:
    """Sentences/s of the champion's predictor called on ``per_call`` sentences at a time."""
    predictor = SentimentPredictor.from_directory(champion_dir(workspace))
    predictor.predict(texts[:per_call])
    started = time.perf_counter()
    for start in range(0, len(texts), per_call):
        predictor.predict(texts[start : start + per_call])
    return len(texts) / (time.perf_counter() - started)


def through_nginx(workspace: Path, texts: list[str], total: int) -> list[list]:
    """The default server behind deploy/nginx/sentiment.conf (rate limit lifted); RSS is the app's alone."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.deploy import nginx_front  # the same nginx the deployment test runs

    binary = nginx_front.nginx_binary()
    if binary is None:
        print("nginx is not installed: no row through nginx (Debian: apt-get install nginx)", file=sys.stderr)
        return []
    app_port, front_port = serve_demo.free_port(), serve_demo.free_port()
    server = start_server(workspace, app_port, ())
    with tempfile.TemporaryDirectory(prefix="bench-nginx-") as folder:
        front = nginx_front.Front(binary, Path(folder), app_port, [f"127.0.0.1:{front_port}"], rate_limit=False)
        try:
            m = measure(front_port, texts, total)
            row = ["micro-batching (default), through nginx", m["p50"], m["p99"], m["rps"], m["c_p99"], m["errors"]]
            return [[*row, rss_mb(server.pid)]]
        finally:
            front.stop()
            server.terminate()
            server.wait()


def shadow_registry(workspace: Path, folder: Path, calibration: list[str]) -> Path:
    """A scratch workspace in ``folder`` whose registry has the champion of ``workspace`` twice: version 1
    ``@champion``, version 2 ``@challenger`` (registered from a copy: registration writes beside the weights)."""
    model = Path(shutil.copytree(champion_dir(workspace), folder / "model"))
    runs.configure(folder, "bench-shadow")
    name = Workspace(folder).registered_model
    for promote in (True, False):
        with mlflow.start_run():
            version = registry.log_and_register(model, name, calibration, keep_local=True)
        if promote:
            registry.promote(name, str(version.version), "benchmark")
    return folder


def health(port: int) -> dict:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", "/health")
    return json.loads(conn.getresponse().read())


def wait_for_challenger(port: int) -> None:
    """Until the server shadows the challenger (it loads in the background after /health answers)."""
    deadline = time.monotonic() + SHADOW_LOAD_SECONDS
    while "shadow_challenger_version" not in health(port):
        if time.monotonic() > deadline:
            raise SystemExit(f"the challenger was not loaded within {SHADOW_LOAD_SECONDS} s: {health(port)}")
        time.sleep(0.5)


def shadow_configs(cpu_classes: list[str]) -> list[tuple[float, str]]:
    """The servers of one round: shadow scoring off, then each share with each CPU class of the challenger."""
    return [(0.0, "-"), *[(share, cpu) for cpu in cpu_classes for share in SHADOW_SHARES]]


def shadow_row(scratch: Path, share: float, cpu: str, texts: list[str], total: int) -> list:
    """/predict with 16 clients on a server shadowing ``share`` of the texts (0: no challenger loaded) with a
    challenger of CPU class ``cpu`` (SENTIMENT_SERVE_SHADOW_CPU)."""
    port = serve_demo.free_port()
    env = {"SENTIMENT_SERVE_SHADOW_SHARE": str(share), **({"SENTIMENT_SERVE_SHADOW_CPU": cpu} if share else {})}
    server = start_server(scratch, port, (), env)
    try:
        if share:
            wait_for_challenger(port)
        m = measure(port, texts, total)
        shadow = health(port)
        done = f"{shadow.get('shadow_dropped', 0)} / {shadow.get('shadow_failed', 0)}" if share else "-"
        return [f"{share:g}", cpu, m["p50"], m["p99"], m["rps"], m["c_p99"], m["errors"], done, rss_mb(server.pid)]
    finally:
        server.terminate()
        server.wait()


def shadow_rows(workspace: Path, texts: list[str], total: int, rounds: int, cpu_classes: list[str]) -> list[list]:
    """One row per round and server, on one scratch registry. The servers run forward in odd rounds and backward
    in even ones, so a machine that slows down or warms up during the run does not favour one of them."""
    rows = []
    configs = shadow_configs(cpu_classes)
    with tempfile.TemporaryDirectory(prefix="bench-shadow-") as folder:
        scratch = shadow_registry(workspace, Path(folder), texts[:100])
        for number in range(1, rounds + 1):
            order = configs if number % 2 else list(reversed(configs))
            rows += [[number, *shadow_row(scratch, share, cpu, texts, total)] for share, cpu in order]
    return rows


def print_shadow_table(rows: list[list]) -> None:
    print_table(
        "/predict with the same model as @champion and as @challenger, by SENTIMENT_SERVE_SHADOW_SHARE "
        "(0 = off: no challenger loaded)",
        ["round", "shadow share", "challenger CPU", "seq p50 ms", "seq p99 ms", f"req/s @{CLIENTS}",
         f"p99 ms @{CLIENTS}", "errors", "dropped / failed", "RSS MB (server + challenger)"],
        rows,
    )  # fmt: skip
    if len({row[0] for row in rows}) > 1:
        print_shadow_spread(rows)


def print_shadow_spread(rows: list[list]) -> None:
    """p99 at 16 clients per server over the rounds, and each round's difference from that round's "off": the
    change shadow scoring makes, against the round-to-round spread of "off" itself (the noise)."""
    p99 = {(row[0], row[1], row[2]): float(row[6]) for row in rows}
    rounds = sorted({row[0] for row in rows})
    table = []
    for share, cpu in dict.fromkeys((row[1], row[2]) for row in rows):
        values = [p99[(r, share, cpu)] for r in rounds]
        diffs = [p99[(r, share, cpu)] - p99[(r, "0", "-")] for r in rounds]
        above = sum(d > 0 for d in diffs)
        table.append([share, cpu, len(rounds), statistics.median(values), f"{min(values):.0f}-{max(values):.0f}",
                      "-" if share == "0" else f"{statistics.median(diffs):+.0f}",
                      "-" if share == "0" else f"{min(diffs):+.0f} to {max(diffs):+.0f}",
                      "-" if share == "0" else f"{above} of {len(rounds)}"])  # fmt: skip
    print_table(
        f"p99 ms @{CLIENTS} over the rounds, and its difference from the same round's shadow-off server",
        ["shadow share", "challenger CPU", "rounds", "median", "range", "median diff vs off", "diff range",
         "rounds above off"],
        table,
    )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", default=".")
    parser.add_argument("--requests", type=int, default=3000, help="requests in the concurrent phase")
    parser.add_argument("--shadow", action="store_true", help="also the shadow-scoring table (off, 0.1, 1)")
    parser.add_argument("--shadow-only", action="store_true", help="only the shadow-scoring table")
    parser.add_argument("--rounds", type=int, default=1, help="shadow table: rounds of every share, alternating")
    parser.add_argument("--shadow-cpu", default="idle", help="shadow table: challenger CPU classes, e.g. idle,low")
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    if args.rounds > 1 and not (args.shadow or args.shadow_only):
        parser.error("--rounds is for the shadow table: add --shadow or --shadow-only")
    cpu_classes = [c.strip() for c in args.shadow_cpu.split(",") if c.strip()]
    if not cpu_classes or set(cpu_classes) - {"idle", "low"}:
        parser.error(f"--shadow-cpu: idle, low or both (comma-separated), not {args.shadow_cpu!r}")
    texts, _ = sst2_test()
    workspace = Path(args.workspace).resolve()
    if args.shadow_only:
        print_shadow_table(shadow_rows(workspace, texts, args.requests, args.rounds, cpu_classes))
        return
    rows = [[f"predictor alone, calls of {CLIENTS} sentences, no HTTP", "-", "-", predictor_rate(workspace, texts)]]
    rows[0] += ["-"] * 3
    for name, extra in SERVERS:
        port = serve_demo.free_port()
        server = start_server(workspace, port, extra)
        try:
            m = measure(port, texts, args.requests)
            rows.append([name, m["p50"], m["p99"], m["rps"], m["c_p99"], m["errors"], rss_mb(server.pid)])
        finally:
            server.terminate()
            server.wait()
    rows += through_nginx(workspace, texts, args.requests)
    print_table(
        f"/predict on SST-2 test sentences, server and clients on the same {os.cpu_count()}-core machine",
        ["server", "seq p50 ms", "seq p99 ms", f"req/s @{CLIENTS}", f"p99 ms @{CLIENTS}", "errors", "RSS MB"],
        rows,
    )
    if args.shadow:
        print_shadow_table(shadow_rows(workspace, texts, args.requests, args.rounds, cpu_classes))


if __name__ == "__main__":
    main()
