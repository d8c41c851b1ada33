"""The HTTP API under sustained load, on loopback: soaks, max-size batches beside live traffic, a model swap.

    .venv/bin/python benchmarks/bench_load.py [--duration 300] [--baseline-seconds 10] [--quick]
                                              [--model-from WORKSPACE] [--seed 0] [--keep] [--baseline-ref REF]

Builds its own workspace (a temporary folder) whose registry holds the model as version 1, @champion,
starts the real server (`python app.py --workspace <ws> --port <free>`)
and runs, one after the other, against that one server process:

    baseline  one sequential client on POST /predict (`--baseline-seconds`)
    a.        16, then 64 concurrent clients hammering POST /predict (`--duration` each)
    b.        16 clients looping on POST /batch_predict with max_batch_items sentences, beside 4 clients on
              POST /predict and one polling GET /health every 50 ms (`--duration`); a 503 with Retry-After
              is honoured (sleep, retry) and counted apart, it is not an error
    c.        16 clients on POST /predict; at half time version 2 is registered, @champion moves to it and
              POST /admin/reload is called, then the phase goes on for half a `--duration` after the reload

Sentences are SST-2 test sentences (../shared/data/sst2), picked by seeded generators. Prints the machine,
one markdown table, the targets and notes; exits 1 if a target is missed: an error in any phase (a non-200
answer other than a retried 503, or a connection error), server RSS growth of 10% or more over a soak (phases
a; b and c report theirs: b holds the working memory of max-size batches, c two models while swapping), p99 of
/predict or /health of 250 ms or more in phase b, a failed request or a missing switch of model_version
across the swap. `--quick` is a smoke run: 5 s per phase, 2 s of baseline (set-up adds about a minute).
`--baseline-ref REF` first runs every phase against app.py of git ref REF (a temporary worktree, the same
registry and machine) and adds a target per traffic stream: this checkout's req/s at most 5% below REF's.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import importlib.metadata
import json
import os
import platform
import random
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path

import numpy as np
from common import REPO, SHARED, checkout, process_tree, rss_mb, sst2_test

from sentiment_lib.errors import SentimentError
from sentiment_lib.inference.cpu import cpu_summary, usable_cores
from sentiment_lib.serving import process as serve_process

SOAK_CLIENTS = (16, 64)
BATCH_CLIENTS = 16
SIDE_PREDICT_CLIENTS = 4
HEALTH_CLIENTS = 1
HEALTH_INTERVAL = 0.05  # seconds between a health client's polls (a load balancer's check, sped up)
SWAP_CLIENTS = 16
P99_TARGET_MS = 250.0
RSS_GROWTH_TARGET = 10.0  # percent
PREDICT_TIMEOUT = 60.0  # seconds; a request slower than this counts as an error
BATCH_TIMEOUT = 300.0
DISTURBED_CPU = 25.0  # percent of one core used by other processes above which a phase is flagged
MIN_RETRY_SLEEP = 0.1  # a Retry-After of 0 is honoured as 100 ms, so a client never spins on a busy server
JSON = {"Content-Type": "application/json"}


# --- the machine ------------------------------------------------------------------------------------------------


def machine() -> str:
    ram = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram = f"{int(line.split()[1]) / 1024**2:.0f} GiB"
    usable = usable_cores()
    versions = []
    for dist in ("torch", "onnxruntime", "waitress"):
        try:
            versions.append(f"{dist} {importlib.metadata.version(dist)}")
        except importlib.metadata.PackageNotFoundError:
            versions.append(f"{dist} not installed")
    return (
        f"{cpu_summary()} ({platform.machine()}), {os.cpu_count()} cores ({usable} usable), {ram} RAM; "
        f"Python {platform.python_version()}, {', '.join(versions)}"
    )


def code_version(folder: Path = REPO) -> str:
    """The commit measured in ``folder``, and whether its working tree differs from it."""
    try:
        commit = subprocess.run(
            ["git", "-C", str(folder), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(folder), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown commit"
    return f"commit {commit}" + (" with uncommitted changes" if dirty else "")


# --- the server process: memory and CPU from /proc ---------------------------------------------------------------


def cpu_seconds(root: int) -> float:
    """User + system CPU time of ``root`` and its descendants."""
    ticks = 0
    for pid in process_tree(root):
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def own_cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


def machine_busy_seconds() -> float:
    """CPU time every core of the machine spent busy (all processes), from /proc/stat."""
    try:
        values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    except (OSError, ValueError):
        return float("nan")
    idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
    return (sum(values[:8]) - idle) / os.sysconf("SC_CLK_TCK")


# --- clients -----------------------------------------------------------------------------------------------------


class Deadline:
    """When clients stop sending; phase c moves it once the swap is done."""

    def __init__(self, at: float):
        self.at = at

    def passed(self) -> bool:
        return time.perf_counter() >= self.at

    def remaining(self) -> float:
        return self.at - time.perf_counter()


@dataclass
class Stats:
    """What one client saw (merged per traffic stream after the phase)."""

    latencies: list[float] = field(default_factory=list)  # ms, successful requests only
    errors: Counter = field(default_factory=Counter)  # kind -> count
    answered: list[tuple[float, float, str]] = field(default_factory=list)  # (sent, done, model_version)
    retries: int = 0  # 503 answers with Retry-After, honoured and retried
    retried_ok: int = 0  # calls that succeeded after at least one 503
    unfinished: int = 0  # calls still waiting out a Retry-After when the phase ended
    items: int = 0  # sentences answered

    def merge(self, other: Stats) -> None:
        self.latencies += other.latencies
        self.errors.update(other.errors)
        self.answered += other.answered
        self.retries += other.retries
        self.retried_ok += other.retried_ok
        self.unfinished += other.unfinished
        self.items += other.items


class Connection:
    """One keep-alive HTTP/1.1 connection to the server, reopened after a failure."""

    def __init__(self, port: int, timeout: float):
        self.port, self.timeout = port, timeout
        self.conn: http.client.HTTPConnection | None = None

    def send(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
        try:
            self.conn.request(method, path, body, headers or {})
            response = self.conn.getresponse()
            payload = response.read()
        except Exception:
            self.close()
            raise
        return response.status, response.headers, payload

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def error_kind(err: BaseException) -> str:
    return type(err).__name__


def retry_after_seconds(value: str | None) -> float | None:
    """``Retry-After`` as seconds (delta-seconds or an HTTP date), or None if absent or unreadable."""
    if value is None:
        return None
    value = value.strip()
    if re.fullmatch(r"\d+(\.\d+)?", value):
        return float(value)
    try:
        return max(0.0, (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds())
    except (TypeError, ValueError):
        return None


def predict_client(port: int, texts: list[str], rng: random.Random, deadline: Deadline, stats: Stats) -> None:
    """POST /predict one sentence after another until the deadline."""
    conn = Connection(port, PREDICT_TIMEOUT)
    while not deadline.passed():
        body = json.dumps({"review": rng.choice(texts)}).encode()
        sent = time.perf_counter()
        try:
            status, _, payload = conn.send("POST", "/predict", body, JSON)
        except Exception as err:  # connection refused, reset, timed out: all errors for the client
            stats.errors[error_kind(err)] += 1
            time.sleep(0.1)  # do not spin if the server is gone
            continue
        done = time.perf_counter()
        if status != 200:
            stats.errors[f"/predict HTTP {status}"] += 1
            continue
        try:
            answer = json.loads(payload)
            version = str(answer["model_version"])
            assert answer["sentiment"] in ("positive", "negative")
        except (ValueError, KeyError, AssertionError):
            stats.errors["/predict malformed 200"] += 1
            continue
        stats.latencies.append((done - sent) * 1000)
        stats.answered.append((sent, done, version))
        stats.items += 1
    conn.close()


def health_client(port: int, deadline: Deadline, stats: Stats) -> None:
    """GET /health every HEALTH_INTERVAL seconds until the deadline."""
    conn = Connection(port, PREDICT_TIMEOUT)
    while not deadline.passed():
        sent = time.perf_counter()
        try:
            status, _, payload = conn.send("GET", "/health")
        except Exception as err:
            stats.errors[error_kind(err)] += 1
            time.sleep(0.1)
            continue
        done = time.perf_counter()
        if status == 200 and b'"ok"' in payload:
            stats.latencies.append((done - sent) * 1000)
        else:
            stats.errors[f"/health HTTP {status}"] += 1
        time.sleep(max(0.0, HEALTH_INTERVAL - (time.perf_counter() - sent)))
    conn.close()


def batch_client(port: int, texts: list[str], items: int, rng: random.Random, deadline: Deadline, stats: Stats) -> None:
    """POST /batch_predict with ``items`` sentences, call after call; a 503 with Retry-After waits and retries.

    A call's latency runs from its first attempt to its answer, Retry-After waits included.
    """
    conn = Connection(port, BATCH_TIMEOUT)
    while not deadline.passed():
        body = json.dumps({"reviews": rng.sample(texts, items)}).encode()
        started, retried = time.perf_counter(), False
        while True:
            try:
                status, headers, payload = conn.send("POST", "/batch_predict", body, JSON)
            except Exception as err:
                stats.errors[error_kind(err)] += 1
                time.sleep(0.1)
                break
            wait = retry_after_seconds(headers.get("Retry-After")) if status == 503 else None
            if wait is not None:
                stats.retries += 1
                retried = True
                wait = max(wait, MIN_RETRY_SLEEP)
                if wait > deadline.remaining():
                    stats.unfinished += 1  # the phase ends before the server would take it
                    break
                time.sleep(wait)
                continue
            if status != 200:  # including a 503 without Retry-After: the contract says it comes with one
                stats.errors[f"/batch_predict HTTP {status}"] += 1
                break
            try:
                predictions = json.loads(payload)["predictions"]
                assert len(predictions) == items
            except (ValueError, KeyError, AssertionError):
                stats.errors["/batch_predict malformed 200"] += 1
                break
            stats.latencies.append((time.perf_counter() - started) * 1000)
            stats.items += items
            stats.retried_ok += retried
            break
    conn.close()


# --- phases ------------------------------------------------------------------------------------------------------


@dataclass
class Phase:
    name: str
    elapsed: float
    streams: dict[str, Stats]  # merged over a stream's clients
    per_client: dict[str, list[Stats]]
    clients: dict[str, int]
    rss_start: float
    rss_mid: float
    rss_end: float
    rss_peak: float
    server_cpu: float  # percent of one core
    client_cpu: float  # this process: every client thread
    other_cpu: float  # every other process on the machine
    stuck: int  # client threads still running after the drain timeout

    def requests_per_second(self, label: str) -> float:
        return len(self.streams[label].latencies) / self.elapsed

    @property
    def rss_growth(self) -> float:
        if not self.rss_start:  # the server was gone: no reading, and no target met
            return float("nan")
        return (self.rss_end - self.rss_start) / self.rss_start * 100


# a traffic stream: (label, clients, target(rng, deadline, stats))
Workload = tuple[str, int, Callable[[random.Random, Deadline, Stats], None]]


def run_phase(
    name: str,
    server_pid: int,
    seconds: float,
    workloads: list[Workload],
    seed: int,
    during: Callable[[Deadline, float], None] | None = None,
) -> Phase:
    """Run every workload's clients (one thread each) until the deadline, then wait for requests in flight."""
    rss_start = rss_mb(server_pid)
    cpu_server, cpu_client, cpu_all = cpu_seconds(server_pid), own_cpu_seconds(), machine_busy_seconds()
    started = time.perf_counter()
    deadline = Deadline(started + seconds if during is None else float("inf"))
    per_client: dict[str, list[Stats]] = {}
    threads = []
    for label, clients, target in workloads:
        per_client[label] = [Stats() for _ in range(clients)]
        for i, stats in enumerate(per_client[label]):
            rng = random.Random(f"{seed}/{name}/{label}/{i}")
            threads.append(threading.Thread(target=target, args=(rng, deadline, stats), daemon=True))
    samples, sampling = [(started, rss_start)], threading.Event()

    def sample() -> None:
        while not sampling.wait(0.5):
            samples.append((time.perf_counter(), rss_mb(server_pid)))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    for thread in threads:
        thread.start()
    if during is not None:
        during(deadline, started)
    timeout_at = max(deadline.at, time.perf_counter()) + BATCH_TIMEOUT + 10
    for thread in threads:
        thread.join(max(0.0, timeout_at - time.perf_counter()))
    elapsed = time.perf_counter() - started
    sampling.set()
    sampler.join()
    rss_end = rss_mb(server_pid)
    server_cpu = cpu_seconds(server_pid) - cpu_server
    client_cpu = own_cpu_seconds() - cpu_client
    other_cpu = machine_busy_seconds() - cpu_all - server_cpu - client_cpu
    middle = started + elapsed / 2
    streams = {}
    for label, stats_list in per_client.items():
        streams[label] = Stats()
        for stats in stats_list:
            streams[label].merge(stats)
    return Phase(
        name=name,
        elapsed=elapsed,
        streams=streams,
        per_client=per_client,
        clients={label: clients for label, clients, _ in workloads},
        rss_start=rss_start,
        rss_mid=min(samples, key=lambda s: abs(s[0] - middle))[1],
        rss_end=rss_end,
        rss_peak=max(rss for _, rss in [*samples, (0, rss_end)]),
        server_cpu=server_cpu / elapsed * 100,
        client_cpu=client_cpu / elapsed * 100,
        other_cpu=max(0.0, other_cpu / elapsed * 100),
        stuck=sum(thread.is_alive() for thread in threads),
    )


@dataclass
class Swap:
    old: str
    token: str
    port: int
    registered_name: str
    new: str = "?"
    promoted_at: float = 0.0
    reloaded_at: float = 0.0
    status: int = 0
    answer: str = ""
    started: float = 0.0  # when phase c started
    per_client: list[list[tuple[float, float, str]]] = field(default_factory=list)

    def run(self, deadline: Deadline, started: float, seconds: float) -> None:
        """At half time register a new version, make it @champion, ask the server to reload; then half a phase more.

        The new version re-registers the old one's logged model (seconds, not a minute of int8 export competing
        with the server): same weights, its own registry entry, which the server loads and warms like any other.
        """
        self.started = started
        try:
            import mlflow

            from sentiment_lib.tracking import registry

            time.sleep(max(0.0, started + seconds / 2 - time.perf_counter()))
            self.promoted_at = time.perf_counter()
            source = mlflow.MlflowClient().get_model_version(self.registered_name, self.old).source
            self.new = str(mlflow.register_model(source, self.registered_name).version)
            registry.promote(self.registered_name, self.new, "benchmarks/bench_load.py swap")
            conn = Connection(self.port, BATCH_TIMEOUT)
            headers = {"Authorization": f"Bearer {self.token}"}
            self.status, _, payload = conn.send("POST", "/admin/reload", b"", headers)
            self.answer = payload.decode(errors="replace")[:300]
            conn.close()
        except Exception as err:  # reported as a failed swap
            self.answer = f"{error_kind(err)}: {err}"
        finally:
            self.reloaded_at = time.perf_counter()
            deadline.at = self.reloaded_at + seconds / 2

    def problems(self, stats: Stats) -> list[str]:
        found = []
        if self.status != 200 or f'"model_version":"{self.new}"' not in self.answer.replace(" ", ""):
            found.append(f"/admin/reload answered {self.status}: {self.answer}")
        if stats.errors:
            found.append(f"{sum(stats.errors.values())} failed requests across the swap")
        early = [a for a in stats.answered if a[0] < self.promoted_at and a[2] != self.old]
        late = [a for a in stats.answered if a[0] > self.reloaded_at and a[2] != self.new]
        if early:
            found.append(f"{len(early)} requests sent before the swap answered by another version than {self.old}")
        if late:
            found.append(f"{len(late)} requests sent after the reload answered by another version than {self.new}")
        for i, answered in enumerate(self.per_client):
            versions = [v for _, _, v in answered]
            if not versions or versions[0] != self.old or versions[-1] != self.new:
                found.append(f"client {i} did not go from version {self.old} to {self.new}")
            elif self.old in versions[versions.index(self.new) :]:
                found.append(f"client {i} got version {self.old} again after {self.new}")
        return found


# --- the workspace and the server ---------------------------------------------------------------------------------


def model_folder(target: Path, model_from: Path | None, seed: int) -> Path:
    """The Hugging Face folder to register: ``model_from``'s @champion, or the packaged encoder, head untrained."""
    if model_from is not None:
        from common import champion_dir

        shutil.copytree(champion_dir(model_from), target)
        return target
    import torch

    from sentiment_lib.settings import PACKAGED_MODEL
    from sentiment_lib.training import train

    torch.manual_seed(seed)
    tokenizer, model = train.load_pretrained(PACKAGED_MODEL)
    model.save_pretrained(target)
    tokenizer.save_pretrained(target)
    return target


def build_registry(workspace: Path, model_from: Path | None, seed: int) -> tuple[str, str]:
    """Register the model as version 1, @champion; return the registered name and the version."""
    import mlflow

    from sentiment_lib.data import importers
    from sentiment_lib.tracking import registry, runs
    from sentiment_lib.workspace import Workspace

    name = Workspace(workspace).registered_model
    calibration = importers.import_sst2(SHARED / "sst2", splits=("dev",)).frame["Review"].head(200).tolist()
    runs.configure(workspace, "bench-load")
    folder = model_folder(workspace / "model", model_from, seed)
    with mlflow.start_run(run_name="bench-load"):
        version = str(registry.log_and_register(folder, name, calibration).version)
    registry.promote(name, version, "benchmarks/bench_load.py")
    return name, version


def start_server(workspace: Path, port: int, token: str, log, app: Path | None = None) -> subprocess.Popen:
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "WANDB_MODE": "offline",
        "SENTIMENT_SERVE_REFRESH_SECONDS": "0",  # the swap happens when phase c calls /admin/reload
        "ADMIN_TOKEN": token,
    }
    process = serve_process.launch_app(workspace, port, env=env, output=log, app=app)
    serve_process.wait_until_healthy(process, f"http://127.0.0.1:{port}", where=log.name)
    return process


def server_log_findings(path: Path) -> list[str]:
    text = path.read_text(errors="replace")
    findings = []
    errors = [line for line in text.splitlines() if " ERROR " in line or line.startswith("Traceback")]
    if errors:
        findings.append(f"{len(errors)} ERROR/Traceback lines in the server log, first: {errors[0][:200]}")
    depths = [int(d) for d in re.findall(r"Task queue depth is (\d+)", text)]
    if depths:
        findings.append(
            f"waitress warned {len(depths)} times that requests queue for a thread (max depth {max(depths)})"
        )
    return findings


# --- the report --------------------------------------------------------------------------------------------------


def percentiles(values: list[float]) -> tuple[float, float]:
    if not values:
        return float("nan"), float("nan")
    p50, p99 = np.percentile(values, [50, 99])
    return float(p50), float(p99)


def ms(value: float) -> str:
    if value != value:  # nan
        return "–"
    return f"{value:,.0f} ms" if value >= 100 else f"{value:.1f} ms"


def table_rows(phases: list[Phase]) -> list[list[str]]:
    rows = []
    for phase in phases:
        for n, (label, stats) in enumerate(phase.streams.items()):
            p50, p99 = percentiles(stats.latencies)
            rate = len(stats.latencies) / phase.elapsed
            rate_text = f"{rate:,.1f}" if rate < 10 else f"{rate:,.0f}"
            if "batch" in label:
                rate_text += f" ({stats.items / phase.elapsed:,.0f} sentences/s)"
            errors = sum(stats.errors.values()) + (phase.stuck if n == 0 else 0)
            retried = f"{stats.retries} ({stats.retried_ok} calls ok after, {stats.unfinished} cut off)"
            first = n == 0
            rows.append(
                [
                    phase.name if first else "",
                    label,
                    str(phase.clients[label]),
                    f"{len(stats.latencies):,}",
                    rate_text,
                    ms(p50),
                    ms(p99),
                    str(errors),
                    retried if "batch" in label else "–",
                    f"{phase.rss_start:,.0f} → {phase.rss_mid:,.0f} → {phase.rss_end:,.0f} (peak {phase.rss_peak:,.0f})"
                    if first
                    else "",
                    f"{phase.rss_growth:+.1f}%" if first else "",
                    f"{phase.server_cpu:.0f}% / {phase.client_cpu:.0f}% / {phase.other_cpu:.0f}%" if first else "",
                ]
            )
    return rows


def print_markdown(header: list[str], rows: list[list[str]]) -> None:
    print("| " + " | ".join(header) + " |")
    print("| " + " | ".join("---" for _ in header) + " |")
    for row in rows:
        print("| " + " | ".join(row) + " |")


def check_targets(phases: dict[str, Phase], swap: Swap) -> list[tuple[str, str, bool]]:
    checks = []
    for phase in phases.values():
        errors = sum(sum(s.errors.values()) for s in phase.streams.values()) + phase.stuck
        kinds = Counter()
        for stats in phase.streams.values():
            kinds.update(stats.errors)
        detail = f"{errors}" + (f" ({', '.join(f'{k}: {v}' for k, v in kinds.most_common())})" if kinds else "")
        if phase.stuck:
            detail += f", {phase.stuck} clients still waiting after the drain timeout"
        checks.append((f"{phase.name}: 0 errors", detail, errors == 0))
        if phase.name.startswith("a."):  # the soak: what a leak would show; b and c are reported, not judged
            checks.append(
                (
                    f"{phase.name}: server RSS growth < {RSS_GROWTH_TARGET:.0f}%",
                    f"{phase.rss_growth:+.1f}%",
                    phase.rss_growth < RSS_GROWTH_TARGET,
                )
            )
    batch = phases["b. batches + live"]
    for label in ("POST /predict", "GET /health"):
        _, p99 = percentiles(batch.streams[label].latencies)
        checks.append((f"b: p99 of {label} beside batches < {P99_TARGET_MS:.0f} ms", ms(p99), p99 < P99_TARGET_MS))
    swap_phase = phases["c. swap"]
    stats = swap_phase.streams["POST /predict"]
    problems = swap.problems(stats)
    counts = Counter(v for _, _, v in stats.answered)
    detail = f"v{swap.old}: {counts[swap.old]:,} answers, v{swap.new}: {counts[swap.new]:,}"
    checks.append((f"c: v{swap.old} → v{swap.new}, 0 failed requests", "; ".join([detail, *problems]), not problems))
    return checks


def swap_notes(swap: Swap, stats: Stats) -> str:
    during = [d - s for s, d, _ in stats.answered if s < swap.reloaded_at and d > swap.promoted_at]
    _, p99 = percentiles([x * 1000 for x in during])
    worst = max(during, default=float("nan")) * 1000
    return (
        f"swap: version {swap.new} registered, @champion moved to it and /admin/reload called "
        f"{swap.promoted_at - swap.started:.1f} s into phase c; "
        f"the reload took {swap.reloaded_at - swap.promoted_at:.1f} s (the server loads and warms the new version "
        f"while serving); the {len(during):,} /predict requests in flight meanwhile had p99 {ms(p99)}, "
        f"max {ms(worst)}"
    )


# --- main --------------------------------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=300.0, help="seconds of each phase a16, a64, b, c")
    parser.add_argument("--baseline-seconds", type=float, default=10.0, help="seconds of the sequential baseline")
    parser.add_argument("--quick", action="store_true", help="smoke run: 5 s per phase, 2 s baseline")
    parser.add_argument("--seed", type=int, default=0, help="seeds the sentence choice and the untrained head")
    parser.add_argument(
        "--model-from",
        type=Path,
        help="a workspace whose @champion to register (copied, its registry is only read); "
        "default: the packaged encoder with an untrained head, same architecture and inference cost",
    )
    parser.add_argument("--keep", action="store_true", help="keep the benchmark's workspace and server log")
    parser.add_argument(
        "--baseline-ref",
        help="also run every phase, first, against app.py of this git ref (a worktree, same registry and "
        "machine) and compare throughput: a change to the server measured against the code before it",
    )
    args = parser.parse_args()
    if args.quick:
        args.duration, args.baseline_seconds = 5.0, 2.0
    return args


@dataclass
class Run:
    """One server's pass through every phase."""

    code: str
    phases: list
    swap: Swap
    backend: str
    log_findings: list[str]


def run_all(args: argparse.Namespace, workspace: Path, texts: list[str]) -> int:
    from sentiment_lib.serving.api import ServeConfig

    limits = ServeConfig.from_env()
    items = limits.max_batch_items
    sample = json.dumps({"reviews": sorted(texts, key=len)[-items:]}).encode()
    if len(sample) >= limits.max_body_bytes:
        raise SentimentError(f"{items} of the longest sentences make {len(sample)} bytes, over the body limit")
    print(f"Setting up {workspace} (registering the model: int8 export, about a minute) ...", flush=True)
    with contextlib.redirect_stdout(sys.stderr):  # the libraries' chatter stays off the table's stream
        name, _ = build_registry(workspace, args.model_from, args.seed)
    baseline = None
    if args.baseline_ref:
        with checkout(args.baseline_ref) as folder:
            print(f"Baseline: app.py of {args.baseline_ref} ...", flush=True)
            baseline = serve_and_measure(args, workspace, texts, items, name, folder)
        report(args, baseline, items)
    print(f"This checkout ({code_version()}) ...", flush=True)
    current = serve_and_measure(args, workspace, texts, items, name, None)
    report(args, current, items)
    checks = check_targets({p.name: p for p in current.phases}, current.swap)
    if baseline is not None:
        checks += compare_throughput(baseline, current)
    print("\nTargets\n")
    print_markdown(["target", "measured", "met"], [[t, m, "yes" if ok else "**NO**"] for t, m, ok in checks])
    missed = [t for t, _, ok in checks if not ok]
    print(f"\n{len(missed)} target(s) missed" + (": " + "; ".join(missed) if missed else ""))
    return 1 if missed else 0


def serve_and_measure(args, workspace: Path, texts: list[str], items: int, name: str, checkout_dir) -> Run:
    """Start app.py (this checkout's, or the one in ``checkout_dir``) on the workspace and run every phase."""
    import mlflow

    from sentiment_lib.settings import CHAMPION

    code = code_version(checkout_dir or REPO)
    old = str(mlflow.MlflowClient().get_model_version_by_alias(name, CHAMPION).version)
    port, token = serve_process.free_port(), secrets.token_hex(16)
    log_path = workspace / f"app-{code}.log"
    with log_path.open("wb") as log:
        server = start_server(workspace, port, token, log, checkout_dir / "app.py" if checkout_dir else None)
        try:
            backend = json.loads(Connection(port, PREDICT_TIMEOUT).send("GET", "/model")[2]).get("backend", "?")
            phases, swap = measure(args, server.pid, port, texts, items, Swap(old, token, port, name))
        finally:
            server.terminate()
            server.wait(timeout=30)
    return Run(code, phases, swap, backend, server_log_findings(log_path))


def compare_throughput(baseline: Run, current: Run, tolerance: float = 0.05) -> list[tuple[str, str, bool]]:
    """Per phase, this checkout's answered req/s against the baseline's (at most ``tolerance`` lower)."""
    checks = []
    for before, after in zip(baseline.phases, current.phases, strict=True):
        for label in before.streams:
            if label.startswith("GET /health"):  # polled at a fixed interval: its rate says nothing
                continue
            old, new = before.requests_per_second(label), after.requests_per_second(label)
            change = (new - old) / old if old else 0.0
            checks.append(
                (
                    f"{before.name}, {label}: req/s within {tolerance:.0%} of {baseline.code}",
                    f"{old:.1f} → {new:.1f} ({change:+.1%})",
                    change >= -tolerance,
                )
            )
    return checks


def measure(args, pid: int, port: int, texts: list[str], items: int, swap: Swap) -> tuple[list[Phase], Swap]:
    def predict(rng, deadline, stats):
        predict_client(port, texts, rng, deadline, stats)

    def health(rng, deadline, stats):
        health_client(port, deadline, stats)

    def batch(rng, deadline, stats):
        batch_client(port, texts, items, rng, deadline, stats)

    seconds = args.duration
    predict_client(port, texts, random.Random(args.seed), Deadline(time.perf_counter() + 2), Stats())  # warm-up
    phases = []
    for name, secs, workloads in [
        ("baseline (sequential)", args.baseline_seconds, [("POST /predict", 1, predict)]),
        (f"a. soak {SOAK_CLIENTS[0]}", seconds, [("POST /predict", SOAK_CLIENTS[0], predict)]),
        (f"a. soak {SOAK_CLIENTS[1]}", seconds, [("POST /predict", SOAK_CLIENTS[1], predict)]),
        (
            "b. batches + live",
            seconds,
            [
                (f"POST /batch_predict ×{items}", BATCH_CLIENTS, batch),
                ("POST /predict", SIDE_PREDICT_CLIENTS, predict),
                ("GET /health", HEALTH_CLIENTS, health),
            ],
        ),
    ]:
        print(f"  {name}: {secs:g} s ...", flush=True)
        phases.append(run_phase(name, pid, secs, workloads, args.seed))
    print(f"  c. swap: {seconds:g} s + reload ...", flush=True)

    def during(deadline: Deadline, started: float) -> None:
        swap.run(deadline, started, seconds)

    swap_phase = run_phase("c. swap", pid, seconds, [("POST /predict", SWAP_CLIENTS, predict)], args.seed, during)
    phases.append(swap_phase)
    swap.per_client = [stats.answered for stats in swap_phase.per_client["POST /predict"]]
    return phases, swap


def report(args, run: Run, items: int) -> None:
    phases, swap, backend, log_findings = run.phases, run.swap, run.backend, run.log_findings
    print(f"\nMachine: {machine()}")
    model = (
        f"@champion of {args.model_from}"
        if args.model_from
        else "all-MiniLM-L6-v2 with an untrained, seeded head (same architecture, int8 export and inference cost "
        "as a trained model; its labels mean nothing, which a load test does not need)"
    )
    print(
        f"Model: {model}; served back-end {backend}. Code: {run.code}. Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC."
    )
    title = (
        f"\nThe API under load on loopback (`benchmarks/bench_load.py"
        f"{' --quick' if args.quick else f' --duration {args.duration:g}'}`, one run, one server process "
        f"through every phase, seed {args.seed})\n"
    )
    print(title)
    header = [
        "phase",
        "traffic",
        "clients",
        "answered",
        "req/s",
        "p50",
        "p99",
        "errors",
        "503 retried",
        "server RSS MB start → mid → end",
        "RSS growth",
        "CPU % server / clients / others",
    ]
    print_markdown(header, table_rows(phases))
    print("\nNotes")
    notes = [
        swap_notes(swap, phases[-1].streams["POST /predict"]),
        f"Clients and server share the machine's {os.cpu_count()} cores: the client threads (one process, one "
        "GIL, http.client keep-alive connections, one thread per client) used the 'clients' CPU of the last "
        "column, taken from the server, so the figures are pessimistic for the server alone. 'others' is every "
        "other process on the machine (from /proc/stat): anything well above a few % means the run was disturbed "
        "and its numbers are not the server's.",
        "Latency is measured by each client from sending a request to reading the last byte of its answer; "
        "percentiles with numpy (linear interpolation); a batch call's latency includes its Retry-After waits. "
        "req/s is answered requests over the phase's wall time, requests in flight at the end included.",
        f"Phase b: {BATCH_CLIENTS} clients loop on {items}-sentence /batch_predict calls (the largest allowed); "
        f"beside them {SIDE_PREDICT_CLIENTS} clients hammer /predict and {HEALTH_CLIENTS} polls /health every "
        f"{HEALTH_INTERVAL * 1000:.0f} ms. A 503 with Retry-After is honoured (at least {MIN_RETRY_SLEEP * 1000:.0f}"
        " ms) and retried, and counted in '503 retried', not as an error; 'cut off' calls were still waiting "
        "when the phase ended.",
        f"Phase c: at half time version {swap.new} is registered (the logged model of version {swap.old} "
        "registered again: same weights, a new version the server loads and warms like any other), @champion is "
        "moved to it and POST /admin/reload is called (ADMIN_TOKEN set; SENTIMENT_SERVE_REFRESH_SECONDS=0 so the "
        "swap happens then, where the default watcher would take it within 10 s); the phase goes on for half a "
        "duration after the reload returned.",
        "RSS is VmRSS of the server process and its children (none today), read at the start, middle and end "
        "of each phase and every 0.5 s for the peak; growth is end against start.",
        "Sentences: SST-2 test (1,821), chosen by seeded generators, one per client. The server logs every "
        "served text (SENTIMENT_SERVE_LOG_INPUTS default) into the benchmark's temporary workspace.",
        f"Errors: any answer other than 200 (and a retried 503), a malformed 200, or a connection error or "
        f"timeout ({PREDICT_TIMEOUT:.0f} s for /predict and /health, {BATCH_TIMEOUT:.0f} s for a batch).",
        *(f"Server log: {finding}" for finding in log_findings),
        *(
            f"**Disturbed**: other processes used {phase.other_cpu:.0f}% of a core during '{phase.name}'; "
            "run again on a quiet machine before quoting its numbers."
            for phase in phases
            if phase.other_cpu > DISTURBED_CPU
        ),
    ]
    for note in notes:
        print(f"- {note}")


def main() -> int:
    args = parse_args()
    # a load test must never register versions in a user's tracking server: the registry is the workspace's own
    for name in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI"):
        os.environ.pop(name, None)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("WANDB_MODE", "offline")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    texts, _ = sst2_test()
    workspace = Path(tempfile.mkdtemp(prefix="bench-load-"))
    try:
        return run_all(args, workspace, texts)
    except SentimentError as err:
        print(f"bench_load: {err}", file=sys.stderr)
        return 2
    finally:
        if args.keep:
            print(f"\nWorkspace and server log kept in {workspace}")
        else:
            shutil.rmtree(workspace, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
