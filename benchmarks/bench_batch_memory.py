"""`runner.py batch` end to end against the predictor's own rate, and its memory as the input grows.

    .venv/bin/python benchmarks/bench_batch_memory.py [--workspace .] [--rows 50000,500000]

Writes CSVs of SST-2 test sentences (cycled) to a temporary folder, runs the batch command on each in
its own process, and prints rows/s and the peak resident memory (VmHWM) of that process. The first row
(the baseline) is the champion's predictor alone, in this process, on one chunk of the same texts: no
reading, parsing, writing or model loading. The batch command's rate as a share of it is what reading,
parsing, writing and start-up cost end to end.
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
from common import REPO, champion_dir, machine_summary, print_table, sst2_test

from sentiment_lib.inference.batch import DEFAULT_CHUNK_ROWS
from sentiment_lib.inference.predictor import SentimentPredictor
from sentiment_lib.settings.runtime import runtime


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


def predictor_rate(workspace: Path, texts: list[str]) -> float:
    """Rows/s of the champion's predictor on one chunk of ``texts`` (cycled), after a warm-up."""
    predictor = SentimentPredictor.from_directory(champion_dir(workspace))
    chunk = [texts[i % len(texts)] for i in range(DEFAULT_CHUNK_ROWS)]
    predictor.predict(chunk[:64])
    started = time.perf_counter()
    predictor.predict(chunk)
    return len(chunk) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", default=".")
    parser.add_argument("--rows", default="50000,500000")
    args = parser.parse_args()
    texts, _ = sst2_test()
    workspace = Path(args.workspace).resolve()
    own = predictor_rate(workspace, texts)
    rows = [[f"predictor alone, {DEFAULT_CHUNK_ROWS:,} rows in memory (baseline)", "-", own, "100%", "-"]]
    with tempfile.TemporaryDirectory() as tmp:
        for count in (int(n) for n in args.rows.split(",")):
            source, target = Path(tmp) / f"in-{count}.csv", Path(tmp) / f"out-{count}.csv"
            write_input(source, count, texts)
            seconds, peak = run(workspace, source, target)
            rate = count / seconds
            rows.append([f"runner.py batch, {count:,} rows", seconds, rate, f"{rate / own:.0%}", peak])
            source.unlink()
            target.unlink()
    backend = runtime().backend  # SENTIMENT_BACKEND, as the batch command reads it
    title = f"runner.py batch ({backend}, {DEFAULT_CHUNK_ROWS:,}-row chunks, start-up included), {machine_summary()}"
    print_table(title, ["run", "seconds", "rows/s", "of the predictor's rate", "peak RSS MB"], rows)


if __name__ == "__main__":
    main()
