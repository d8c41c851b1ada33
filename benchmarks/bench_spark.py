"""Batch scoring at scale, on this machine, in one run: the single-process `runner.py batch` (the baseline)
against `--engine spark` on `local[2]` and on a standalone cluster of two 1-core workers on loopback.

    .venv/bin/python benchmarks/bench_spark.py [--workspace .] [--rows 200000] [--small 2000]

Every engine scores the same CSV (SST-2 sentences and airline tweets, cycled to ``--rows``) with the
workspace's @champion, as the command a user runs (`runner.py batch`, wall time from start to exit, Spark's
start-up included). Memory is the peak resident size, sampled every 0.2 s, of the command's process tree
(for Spark: the driver, its JVM and, on local[2], the Python workers) and, on the cluster, of the master
and workers' trees (the executors). Each engine also scores a ``--small`` file, so that the fixed cost
(start-up) and the cost per row can be told apart: where Spark starts paying off is where the lines cross.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pandas as pd
from common import REPO, SHARED, print_table, rss_mb, sst2_test

from sentiment_lib.inference.spark_cluster import LocalSparkCluster


def make_input(path: Path, rows: int) -> None:
    tweets = pd.read_csv(SHARED / "airline" / "Tweets.csv")["text"].tolist()
    texts = sst2_test()[0] + tweets
    pd.DataFrame({"id": range(rows), "Review": [texts[i % len(texts)] for i in range(rows)]}).to_csv(path, index=False)


class PeakMemory:
    """Samples the resident memory of the trees under ``roots`` until stopped; keeps the peak of the sum."""

    def __init__(self, roots: list[int]):
        self.roots, self.peak_mb = roots, 0.0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._done.wait(0.2):
            self.peak_mb = max(self.peak_mb, sum(rss_mb(root) for root in self.roots))

    def stop(self) -> float:
        self._done.set()
        self._thread.join()
        return self.peak_mb


def score(workspace: Path, source: Path, output: Path, engine: list[str], cluster: list[int]) -> dict[str, float]:
    """Run `runner.py batch` once; wall seconds, rows/s, and peak memory of the command and of the cluster."""
    command = [sys.executable, str(REPO / "runner.py"), "batch", "--workspace", str(workspace), "--no-progress"]
    command += ["--input_path", str(source), "--output_path", str(output), *engine]
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    driver, executors = PeakMemory([process.pid]), PeakMemory(cluster)
    stdout, stderr = process.communicate()
    seconds = time.perf_counter() - started
    driver_mb, executors_mb = driver.stop(), executors.stop()
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{stderr[-3000:]}")
    rows = int(stdout.split("wrote ", 1)[1].split(" rows", 1)[0])
    return {"rows": rows, "seconds": seconds, "rps": rows / seconds, "driver_mb": driver_mb, "cluster_mb": executors_mb}


def crossover(small: dict, large: dict, base_small: dict, base_large: dict) -> str:
    """The input size from which an engine beats the baseline, from fixed cost + cost per row of each."""
    per_row = (large["seconds"] - small["seconds"]) / (large["rows"] - small["rows"])
    fixed = small["seconds"] - per_row * small["rows"]
    base_per_row = (base_large["seconds"] - base_small["seconds"]) / (base_large["rows"] - base_small["rows"])
    base_fixed = base_small["seconds"] - base_per_row * base_small["rows"]
    if per_row >= base_per_row:
        return f"never here (start-up {fixed:.0f} s, {per_row * 1000:.2f} ms/row)"
    rows = (fixed - base_fixed) / (base_per_row - per_row)
    return f"{rows:,.0f} rows (start-up {fixed:.0f} s, {per_row * 1000:.2f} ms/row)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", default=".", help="a workspace with a @champion (after make demo)")
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--small", type=int, default=2_000, help="rows of the file that measures start-up")
    args = parser.parse_args()
    workspace = Path(args.workspace).resolve()
    scratch = Path(tempfile.mkdtemp(prefix="bench-spark-"))
    try:
        inputs = {"small": scratch / "small.csv", "large": scratch / "large.csv"}
        make_input(inputs["small"], args.small)
        make_input(inputs["large"], args.rows)
        cluster = LocalSparkCluster(scratch / "cluster", workers=2)
        with cluster as master:
            cluster_pids = [p.pid for p in cluster.processes]
            engines = {
                "single process (baseline)": ([], []),
                "Spark local[2]": (["--engine", "spark", "--master", "local[2]"], []),
                "Spark standalone, 2 workers x 1 core": (["--engine", "spark", "--master", master], cluster_pids),
            }
            results = {}
            for name, (engine, cluster) in engines.items():
                for size, source in inputs.items():
                    out = scratch / f"{len(results)}-{size}.out.csv"
                    results[name, size] = score(workspace, source, out, engine, cluster)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    base = "single process (baseline)"
    rows = []
    for name in engines:
        large, small = results[name, "large"], results[name, "small"]
        vs = large["rps"] / results[base, "large"]["rps"]
        pays = "-" if name == base else crossover(small, large, results[base, "small"], results[base, "large"])
        cluster_mb = f"{large['cluster_mb']:,.0f}" if large["cluster_mb"] else "-"
        memory = [f"{large['driver_mb']:,.0f}", cluster_mb]
        rows.append([name, large["rows"], large["seconds"], large["rps"], f"{vs:.0%}", *memory, small["seconds"], pays])
    print_table(
        f"runner.py batch on {args.rows:,} reviews and tweets, {os.cpu_count()} cores (wall time, start-up included)",
        ["engine", "rows", "seconds", "rows/s", "vs baseline", "peak MB (command)", "peak MB (cluster)",
         f"seconds on {args.small:,}", "beats the baseline from"],
        rows,
    )  # fmt: skip


if __name__ == "__main__":
    main()
