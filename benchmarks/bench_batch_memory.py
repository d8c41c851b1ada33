"""Memory of `runner.py batch` stays flat as the input grows: the same command on 50,000 and 500,000 rows.

    .venv/bin/python benchmarks/bench_batch_memory.py [--workspace .] [--rows 50000,500000]

Writes CSVs of SST-2 test sentences (cycled) to a temporary folder, runs the batch command on each in
its own process, and prints rows/s and the peak resident memory (VmHWM) of that process.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
from common import REPO, print_table, sst2_test


def write_input(path: Path, rows: int, texts: list[str]) -> None:
    frame = pd.DataFrame({"id": range(rows), "Review": [texts[i % len(texts)] for i in range(rows)]})
    frame.to_csv(path, index=False)


def peak_rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except FileNotFoundError:
        return None
    return None


def run(workspace: Path, source: Path, target: Path) -> tuple[float, float]:
    command = [
        sys.executable,
        str(REPO / "runner.py"),
        "batch",
        "--input_path",
        str(source),
        "--output_path",
        str(target),
        "--no-progress",
        "--workspace",
        str(workspace),
    ]
    started = time.perf_counter()
    process = subprocess.Popen(command, env={**os.environ, "HF_HUB_OFFLINE": "1"}, stdout=subprocess.DEVNULL)
    peak = 0.0
    while process.poll() is None:
        peak = max(peak, peak_rss_mb(process.pid) or 0.0)
        time.sleep(0.2)
    if process.returncode != 0:
        raise RuntimeError(f"batch failed with status {process.returncode}")
    return time.perf_counter() - started, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", default=".")
    parser.add_argument("--rows", default="50000,500000")
    args = parser.parse_args()
    texts, _ = sst2_test()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for count in (int(n) for n in args.rows.split(",")):
            source, target = Path(tmp) / f"in-{count}.csv", Path(tmp) / f"out-{count}.csv"
            write_input(source, count, texts)
            seconds, peak = run(Path(args.workspace).resolve(), source, target)
            rows.append([f"{count:,}", seconds, count / seconds, peak])
            source.unlink()
            target.unlink()
    print_table("runner.py batch (onnx-int8, chunks of 5,000 rows)", ["rows", "seconds", "rows/s", "peak RSS MB"], rows)


if __name__ == "__main__":
    main()
