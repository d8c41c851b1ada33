"""Accuracy side by side, one run: lexicon baselines, TF-IDF + logistic regression, our quick and full models.

    .venv/bin/python benchmarks/bench_accuracy.py [--workspace benchmarks/.work/accuracy] [--presets quick full]
                                                  [--reuse]

Our models are trained the way a user trains them, in a workspace of their own: ``runner.py import-data``,
``preprocess``, then ``train --preset P`` and ``evaluate`` for each preset (so each is registered in MLflow
with its numbers). TF-IDF + logistic regression trains on the same training split (its C chosen on the
validation split). Every contender is then scored on the SST-2 test set and on the airline tweets (positive
and negative only, a domain none of them trained on): accuracy, expected calibration error (our models before
and after temperature scaling; the lexicons give scores, not probabilities), training time and prediction
speed on the SST-2 test sentences (2 threads). ``--reuse`` skips training a preset already registered in the
workspace.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from common import REPO, SHARED, machine_summary, print_table

from sentiment_lib.data import dataset as data
from sentiment_lib.data import importers
from sentiment_lib.data.schema import LABEL_COLUMN, TEXT_COLUMN
from sentiment_lib.inference.predictor import SentimentPredictor
from sentiment_lib.training.evaluate import expected_calibration_error
from sentiment_lib.workspace import Workspace


@dataclass
class Contender:
    """A classifier under test: P(positive) per text, its training time, and how its confidences are read."""

    name: str
    positive_probability: Callable[[list[str]], np.ndarray]
    train_seconds: float | None
    uncalibrated: Callable[[list[str]], np.ndarray] | None = None  # P(positive) before temperature scaling
    scores_only: bool = False  # a lexicon's score is not a probability: no calibration error


# --- the workspace and our models -------------------------------------------------------------------------------


def run_runner(workspace: Path, *args: str) -> None:
    env = os.environ | {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    env.setdefault("WANDB_MODE", "offline")
    command = [sys.executable, str(REPO / "runner.py"), *args]
    print("$ " + " ".join(command[1:]), flush=True)
    subprocess.run(command, check=True, env=env, cwd=REPO if args[0] == "import-data" else workspace)


def prepare_workspace(workspace: Path) -> None:
    """SST-2 and the customer reviews imported and split, as ``make data`` and ``make demo`` do."""
    ws = Workspace(workspace)
    workspace.mkdir(parents=True, exist_ok=True)
    if not ws.raw_data.is_file():
        partial, output = ws.raw_data.with_suffix(".partial"), ["--output", str(ws.raw_data.with_suffix(".partial"))]
        run_runner(workspace, "import-data", "sst2", "--source", str(SHARED / "sst2"), *output, "--overwrite")
        run_runner(workspace, "import-data", "reviews", "--source", str(SHARED / "reviews"), *output, "--append")
        partial.rename(ws.raw_data)
    if not (ws.processed / "train.csv").is_file():
        run_runner(workspace, "preprocess", "--workspace", str(workspace), "--cycle", "bench-preprocess")


def trained_recipes(workspace: Path) -> dict[str, object]:
    """The newest registered version per recipe in the workspace's registry, named by the cycle that trained it
    (``--cycle bench-<recipe>``: a preset here, ``<preset>-lever`` in bench_behaviour, a data recipe in
    bench_domains)."""
    from mlflow import MlflowClient

    from sentiment_lib.tracking import runs

    runs.configure_client(workspace)
    client, newest = MlflowClient(), {}
    name = Workspace(workspace).registered_model
    for version in sorted(client.search_model_versions(f"name='{name}'"), key=lambda v: int(v.version)):
        run_name = client.get_run(version.run_id).info.run_name or ""
        newest[run_name.removeprefix("train-bench-")] = version
    return newest


def train_preset(workspace: Path, preset: str) -> None:
    evaluation_sets = ["-p", "sst2_test_path", str(SHARED / "sst2" / "test.tsv")]
    evaluation_sets += ["-p", "airline_test_path", str(SHARED / "airline" / "Tweets.csv")]
    common = ["--preset", preset, "--workspace", str(workspace), "--cycle", f"bench-{preset}"]
    run_runner(workspace, "train", *common)
    run_runner(workspace, "evaluate", *common, *evaluation_sets)


def our_model(preset: str, version: object, backend: str) -> Contender:
    """A registered version of ours (the workspace's registry is already configured), on one back-end."""
    from mlflow import MlflowClient

    from sentiment_lib.tracking import registry

    served = registry.load_served_model(version.name, version=version.version)
    predictor = SentimentPredictor.from_directory(served.model_dir, backend=backend)
    seconds = MlflowClient().get_run(version.run_id).data.metrics["train_seconds"]
    return Contender(
        f"ours, {preset} ({'int8, served' if backend == 'onnx-int8' else 'fp32'})",
        lambda texts: predictor.predict(texts).positive_probabilities,
        seconds,
        uncalibrated=lambda texts: predictor.from_logits(predictor.logits(texts), 1.0).positive_probabilities,
    )


# --- baselines ---------------------------------------------------------------------------------------------------


def vader() -> Contender:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    analyzer = SentimentIntensityAnalyzer()

    def compound_sign(texts: list[str]) -> np.ndarray:
        return _sign([analyzer.polarity_scores(text)["compound"] for text in texts])

    return Contender("VADER (lexicon)", compound_sign, None, scores_only=True)


def textblob() -> Contender:
    from textblob import TextBlob

    def polarity_sign(texts: list[str]) -> np.ndarray:
        return _sign([TextBlob(text).sentiment.polarity for text in texts])

    return Contender("TextBlob (lexicon)", polarity_sign, None, scores_only=True)


def _sign(scores: list[float]) -> np.ndarray:
    """A lexicon score's sign as the label, 1.0 positive (a neutral 0 included) or 0.0 negative.

    A score is not a probability, so these two get no calibration error.
    """
    return (np.array(scores) >= 0).astype(float)


def tfidf_logistic_regression(train: pd.DataFrame, validation: pd.DataFrame) -> Contender:
    """Word 1-2 grams, sublinear TF-IDF; C picked on validation accuracy, then refitted on the training split."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    started = time.perf_counter()
    y_train = (train[LABEL_COLUMN] == "positive").astype(int)
    y_val = (validation[LABEL_COLUMN] == "positive").astype(int).to_numpy()
    fitted = {}
    for c in (1.0, 4.0, 16.0):
        model = make_pipeline(
            TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True), LogisticRegression(C=c, max_iter=2000)
        )
        model.fit(train[TEXT_COLUMN], y_train)
        fitted[c] = (float((model.predict(validation[TEXT_COLUMN]) == y_val).mean()), model)
    seconds = time.perf_counter() - started
    best_c = max(fitted, key=lambda c: fitted[c][0])
    best = fitted[best_c][1]
    return Contender(
        f"TF-IDF + logistic regression (C={best_c:g})", lambda texts: best.predict_proba(texts)[:, 1], seconds
    )


# --- scoring -----------------------------------------------------------------------------------------------------


def positive_labels(frame: pd.DataFrame) -> np.ndarray:
    return (frame[LABEL_COLUMN] == "positive").to_numpy()


def ece(p_positive: np.ndarray, truth: np.ndarray) -> float:
    predicted = p_positive >= 0.5
    return expected_calibration_error(np.maximum(p_positive, 1 - p_positive), predicted == truth)


def score(contender: Contender, sets: dict[str, pd.DataFrame]) -> list:
    """One table row: accuracy on each set, ECE on SST-2 test before and after calibration, time, speed."""
    texts = sets["sst2"][TEXT_COLUMN].tolist()
    contender.positive_probability(texts[:16])  # warm-up
    started = time.perf_counter()
    p_sst2 = contender.positive_probability(texts)
    rate = len(texts) / (time.perf_counter() - started)
    p_airline = contender.positive_probability(sets["airline"][TEXT_COLUMN].tolist())
    truth = {name: positive_labels(frame) for name, frame in sets.items()}
    if contender.scores_only:
        calibration_errors = ["-", "-"]
    elif contender.uncalibrated is None:
        calibration_errors = [f"{ece(p_sst2, truth['sst2']):.3f}", "-"]
    else:
        raw = contender.uncalibrated(texts)
        calibration_errors = [f"{ece(raw, truth['sst2']):.3f}", f"{ece(p_sst2, truth['sst2']):.3f}"]
    return [
        contender.name,
        100 * float(((p_sst2 >= 0.5) == truth["sst2"]).mean()),
        100 * float(((p_airline >= 0.5) == truth["airline"]).mean()),
        *calibration_errors,
        f"{contender.train_seconds / 60:.1f}" if contender.train_seconds else "-",
        rate,
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", type=Path, default=REPO / "benchmarks/.work/accuracy")
    parser.add_argument("--presets", nargs="*", default=["quick", "full"])
    parser.add_argument("--reuse", action="store_true", help="keep a preset's model already in the workspace")
    args = parser.parse_args()
    workspace = args.workspace.resolve()
    prepare_workspace(workspace)
    for preset in args.presets:
        if not (args.reuse and preset in trained_recipes(workspace)):
            train_preset(workspace, preset)
    versions = trained_recipes(workspace)
    train = data.read_split(workspace / "data/processed", "train")
    validation = data.read_split(workspace / "data/processed", "validation")
    sets = {
        "sst2": importers.import_sst2(SHARED / "sst2", splits=("test",)).frame,
        "airline": importers.import_airline(SHARED / "airline" / "Tweets.csv").frame,
    }
    contenders = [vader(), textblob(), tfidf_logistic_regression(train, validation)]
    for preset in args.presets:
        contenders += [our_model(preset, versions[preset], b) for b in ("torch", "onnx-int8")]
    rows = [score(contender, sets) for contender in contenders]
    machine = machine_summary()
    print_table(
        f"SST-2 test ({len(sets['sst2'])} sentences) and airline tweets ({len(sets['airline'])}), {machine}",
        ["model", "SST-2 test %", "airline %", "ECE raw", "ECE calibrated", "training min", "sentences/s"],
        rows,
    )


if __name__ == "__main__":
    main()
