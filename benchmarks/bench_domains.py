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
promoted; ``--reuse`` keeps one already trained there for the same mix (a ``bench-<recipe>`` cycle).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
from bench_accuracy import prepare_workspace, run_runner, tfidf_logistic_regression, trained_recipes
from common import REPO, machine_summary, print_table

from sentiment_lib.data import dataset as data
from sentiment_lib.data import mix
from sentiment_lib.data.schema import LABEL_COLUMN, TEXT_COLUMN
from sentiment_lib.inference.predictor import SentimentPredictor
from sentiment_lib.settings import resolve_settings
from sentiment_lib.training import workflow
from sentiment_lib.training.evaluate import CONFIDENT


def served_model(workspace: Path, preset: str, recipe: str, overrides: dict[str, str], reuse: bool):
    """The int8 predictor of ``preset`` with ``overrides``, trained now as ``runner.py train`` trains (cycle
    ``bench-<recipe>``) unless ``reuse`` finds one already."""
    from sentiment_lib.tracking import registry

    if not (reuse and recipe in trained_recipes(workspace)):
        where = ["--preset", preset, "--workspace", str(workspace), "--cycle", f"bench-{recipe}"]
        run_runner(workspace, "train", *where, *(arg for pair in overrides.items() for arg in ("-p", *pair)))
    version = trained_recipes(workspace)[recipe]
    served = registry.load_served_model(version.name, version=version.version)
    return SentimentPredictor.from_directory(served.model_dir, backend="onnx-int8")


# the recipe of the project before the customer reviews: SST-2 alone, none of the levers added with them
SST2_ONLY = {
    "mix": "sst2:1,reviews:0",
    "balance_labels": "0",
    "augment_capabilities": "",
    "identity_augment_rows": "0",
    "truncation": "head",
}


def sst2_only_model(workspace: Path, preset: str, reuse: bool) -> SentimentPredictor:
    return served_model(workspace, preset, f"{preset}-sst2-only", SST2_ONLY, reuse)


def mix_model(workspace: Path, preset: str, mix_text: str, reuse: bool) -> SentimentPredictor:
    recipe = f"{preset}-" + mix_text.replace(":", "").replace(",", "-").replace(".", "_")
    return served_model(workspace, preset, recipe, {"mix": mix_text}, reuse)


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
    ours = mix_model(workspace, args.preset, left_out, args.reuse)
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
        "sst2": sst2_only_model(workspace, args.preset, args.reuse),
        "all": mix_model(workspace, args.preset, args.mix, args.reuse),
    }
    rows = [domain_row(workspace, args, domain, test, models) for domain in domains]
    machine = machine_summary()
    print_table(
        f"Leave-one-domain-out, `{args.preset}`, int8 as served: test accuracy % (confident errors %), {machine}",
        ["left-out domain", "test rows", "SST-2 only", "TF-IDF + LR, without it", "ours, without it", "ours, with it"],
        rows,
    )


if __name__ == "__main__":
    main()
