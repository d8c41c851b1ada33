"""Batch inference on the SST-2 test set: HF pipeline (the usual way) against our predictor, one run.

    .venv/bin/python benchmarks/bench_inference.py [--workspace .]

Prints sentences/s and accuracy for: transformers pipeline with batch size 1 and 32 (baseline),
our predictor on PyTorch fp32, and our predictor on the int8 ONNX model (what the API serves).
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import numpy as np
import torch
from common import champion_dir, print_table, sst2_test

from sentiment_lib.inference.predictor import SentimentPredictor, default_threads


def timed(fn, texts: list[str]) -> tuple[float, list[str]]:
    fn(texts[:16])  # warm-up
    started = time.perf_counter()
    labels = fn(texts)
    return len(texts) / (time.perf_counter() - started), labels


def hf_pipeline(model_dir: Path, batch_size: int):
    from transformers import pipeline

    classify = pipeline("text-classification", model=str(model_dir), device=-1, truncation=True, max_length=128)
    return lambda texts: [r["label"] for r in classify(texts, batch_size=batch_size)]


def ours(model_dir: Path, backend: str):
    predictor = SentimentPredictor.from_directory(model_dir, backend=backend)
    return lambda texts: predictor.predict(texts).labels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", default=".")
    args = parser.parse_args()
    torch.set_num_threads(default_threads())
    model_dir = champion_dir(Path(args.workspace))
    texts, labels = sst2_test()
    truth = np.array(labels)
    candidates = {
        "HF pipeline, batch 1 (baseline)": hf_pipeline(model_dir, 1),
        "HF pipeline, batch 32": hf_pipeline(model_dir, 32),
        "ours, torch fp32": ours(model_dir, "torch"),
        "ours, onnx-int8 (served)": ours(model_dir, "onnx-int8"),
    }
    rows = []
    for name, fn in candidates.items():
        rate, predicted = timed(fn, texts)
        rows.append([name, rate, 100 * float((np.array(predicted) == truth).mean())])
    base = rows[0][1]
    rows = [[*row, row[1] / base] for row in rows]
    machine = platform.processor() or platform.machine()
    print_table(
        f"SST-2 test ({len(texts)} sentences), {default_threads()} threads, {machine}",
        ["predictor", "sentences/s", "accuracy %", "speed-up"],
        rows,
    )


if __name__ == "__main__":
    main()
