"""Domains a model never saw: leave-one-domain-out over the customer reviews, one run.

    .venv/bin/python benchmarks/bench_domains.py [--workspace benchmarks/.work/domains] [--preset quick]
                                                 [--domains hotels kitchen] [--reuse]

For each customer-review domain D, a model is trained as a user trains one (``runner.py train``) with D
weighed 0 in the mix (``-p mix sst2:1,reviews:1,D:0``: neither its training nor its validation rows), and
scored, as served (int8), on D's test split: what a new user's own reviews look like to the model. Beside it
on the same rows: the SST-2-only model (``-p mix sst2:1,reviews:0``, what the project trained on before the
reviews), the model trained on the whole mix (D included: the in-domain ceiling), and TF-IDF + logistic
regression trained on the same rows as the leave-one-out model. Accuracy and the share of confident errors
(wrong at confidence >= 0.9) per domain. Models are registered in the workspace's own registry and never
promoted; ``--reuse`` keeps one already trained there for the same mix.
"""

from __future__ import annotations

import argparse
import os
import platform
from pathlib import Path

import numpy as np
import pandas as pd
from bench_accuracy import run_runner, tfidf_logistic_regression
from common import REPO, SHARED, print_table

from sentiment_lib.config import resolve_settings
from sentiment_lib.data import dataset as data
from sentiment_lib.data import mix
from sentiment_lib.data.schema import LABEL_COLUMN, TEXT_COLUMN
from sentiment_lib.inference.predictor import SentimentPredictor, default_threads
from sentiment_lib.training import workflow
from sentiment_lib.training.evaluate import CONFIDENT
from sentiment_lib.workspace import Workspace


def prepare_workspace(workspace: Path) -> None:
    """SST-2 and the customer reviews imported and split, as ``make data`` and ``make demo`` do."""
    ws = Workspace(workspace)
    workspace.mkdir(parents=True, exist_ok=True)
    if not ws.raw_data.is_file():
        partial = ws.raw_data.with_suffix(".partial")
        output = ["--output", str(partial)]
        run_runner(workspace, "import-data", "sst2", "--source", str(SHARED / "sst2"), *output, "--overwrite")
        run_runner(workspace, "import-data", "reviews", "--source", str(SHARED / "reviews"), *output, "--append")
        partial.rename(ws.raw_data)
    if not (ws.processed / "train.csv").is_file():
        run_runner(workspace, "preprocess", "--workspace", str(workspace), "--cycle", "bench-preprocess")


def trained_mixes(workspace: Path, preset: str) -> dict[str, object]:
    """The newest registered version per mix of ``preset`` in the workspace's registry."""
    from mlflow import MlflowClient

    from sentiment_lib.tracking import runs

    runs.configure_client(workspace)
    client, newest = MlflowClient(), {}
    name = Workspace(workspace).registered_model
    for version in sorted(client.search_model_versions(f"name='{name}'"), key=lambda v: int(v.version)):
        params = client.get_run(version.run_id).data.params
        if params.get("settings.preset") == preset:
            newest[params.get("settings.mix", "")] = version
    return newest


def served_model(workspace: Path, preset: str, mix_text: str, reuse: bool) -> SentimentPredictor:
    """The int8 predictor of a model of ``preset`` trained on ``mix_text`` (trained now unless reused)."""
    from sentiment_lib.tracking import registry

    if not (reuse and mix_text in trained_mixes(workspace, preset)):
        cycle = "bench-" + mix_text.replace(":", "").replace(",", "-")
        where = ["--preset", preset, "--workspace", str(workspace), "--cycle", cycle]
        run_runner(workspace, "train", *where, "-p", "mix", mix_text)
    version = trained_mixes(workspace, preset)[mix_text]
    served = registry.load_served_model(version.name, version=version.version)
    return SentimentPredictor.from_directory(served.model_dir, backend="onnx-int8")


def without(base_mix: str, domain: str) -> str:
    return f"{base_mix},{domain}:0"


def accuracy_and_confident_errors(p_positive: np.ndarray, frame: pd.DataFrame) -> str:
    truth = (frame[LABEL_COLUMN] == "positive").to_numpy()
    wrong = (p_positive >= 0.5) != truth
    confident = np.maximum(p_positive, 1 - p_positive) >= CONFIDENT
    return f"{100 * (1 - wrong.mean()):.2f} ({100 * (wrong & confident).mean():.1f})"


def training_rows(workspace: Path, preset: str, mix_text: str, split: str) -> pd.DataFrame:
    """The rows the pipeline trains (or validates) on for ``mix_text``, drawn as 02_train draws them."""
    settings = resolve_settings(preset, {"mix": mix_text})
    cap = settings.max_train_samples if split == "train" else settings.max_eval_samples
    frame = data.read_split(workspace / "data/processed", split)
    return workflow.mixed_rows(settings, frame, frame.iloc[:0], cap)


def domain_row(workspace: Path, args: argparse.Namespace, domain: str, test: pd.DataFrame, models: dict) -> list:
    rows = test[test["domain"] == domain]
    left_out = without(args.mix, domain)
    tfidf = tfidf_logistic_regression(
        training_rows(workspace, args.preset, left_out, "train"),
        training_rows(workspace, args.preset, left_out, "validation"),
    )
    texts = rows[TEXT_COLUMN].tolist()
    ours = served_model(workspace, args.preset, left_out, args.reuse)
    cells = [
        accuracy_and_confident_errors(predictor.predict(texts).positive_probabilities, rows)
        for predictor in (models["sst2"], ours, models["all"])
    ]
    baseline = accuracy_and_confident_errors(tfidf.positive_probability(texts), rows)
    return [domain, len(rows), cells[0], baseline, *cells[1:]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", type=Path, default=REPO / "benchmarks/.work/domains")
    parser.add_argument("--preset", default="quick")
    parser.add_argument("--mix", default=None, help="the mix left-out domains are removed from (the preset's)")
    parser.add_argument("--domains", nargs="*", help="customer-review domains to leave out (default: every one)")
    parser.add_argument("--reuse", action="store_true", help="keep a model already trained there for the same mix")
    args = parser.parse_args()
    args.mix = args.mix or resolve_settings(args.preset).mix
    workspace = args.workspace.resolve()
    prepare_workspace(workspace)
    test = data.read_split(workspace / "data/processed", "test")
    domains = args.domains or sorted(d for d in set(test["domain"]) if mix.source_of(d) == mix.REVIEWS_SOURCE)
    models = {
        "sst2": served_model(workspace, args.preset, "sst2:1,reviews:0", args.reuse),
        "all": served_model(workspace, args.preset, args.mix, args.reuse),
    }
    rows = [domain_row(workspace, args, domain, test, models) for domain in domains]
    machine = f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, {default_threads()} threads"
    print_table(
        f"Leave-one-domain-out, `{args.preset}`, int8 as served: test accuracy % (confident errors %), {machine}",
        ["left-out domain", "test rows", "SST-2 only", "TF-IDF + LR, without it", "ours, without it", "ours, with it"],
        rows,
    )


if __name__ == "__main__":
    main()
