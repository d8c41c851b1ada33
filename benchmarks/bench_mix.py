"""Training recipes on SST-2 + the customer reviews, side by side, one run: what each domain, SST-2, the airline
tweets, everyday praise and identity terms make of each.

    .venv/bin/python benchmarks/bench_mix.py [--workspace benchmarks/.work/domains] [--preset quick]
                                             [--recipes sst2-only default] [--reuse]

Each recipe is the preset with a few settings changed, trained as a user trains it (``runner.py train``, in the
same workspace as bench_domains.py, so models are shared) and scored as served (int8): accuracy and confident
errors (wrong at confidence >= 0.9) on each customer-review domain's test split, accuracy on SST-2 test and
on the airline tweets (a domain none trains on), how many of the everyday positive reviews of
``tests/fixtures/everyday_positive_reviews.csv`` it answers positive, the worst identity group's share of
pairs that change answer, and the Trainer's training time.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
from bench_domains import SST2_ONLY, accuracy_and_confident_errors, prepare_workspace, served_model
from common import REPO, SHARED, machine_summary, print_table

from sentiment_lib.behaviour import suite as behaviour
from sentiment_lib.data import dataset as data
from sentiment_lib.data import importers, mix
from sentiment_lib.data.schema import LABEL_COLUMN, TEXT_COLUMN

EVERYDAY = REPO / "tests/fixtures/everyday_positive_reviews.csv"
# name -> settings changed from the preset (the preset's own values are the default recipe)
NO_LEVERS = {"balance_labels": "0", "augment_capabilities": "", "identity_augment_rows": "0"}
RECIPES = {
    "sst2-only": SST2_ONLY,
    "mix 1:1": {**NO_LEVERS, "mix": "sst2:1,reviews:1"},
    "default": {},
}


def training_minutes(workspace: Path, recipe: str) -> str:
    from bench_accuracy import trained_recipes
    from mlflow import MlflowClient

    version = trained_recipes(workspace)[recipe]
    seconds = MlflowClient().get_run(version.run_id).data.metrics.get("train_seconds")
    return f"{seconds / 60:.1f}" if seconds else "-"


def identity_changes(predictor) -> str:
    cases = [c for c in behaviour.build_suite(400) if c.capability.startswith(behaviour.IDENTITY_PREFIX)]
    results = behaviour.run_suite(cases, lambda texts: predictor.predict(texts).positive_probabilities)
    worst = max(results, key=lambda r: 1 - r.pass_rate)
    return f"{100 * (1 - worst.pass_rate):.1f} ({worst.capability.removeprefix(behaviour.IDENTITY_PREFIX)})"


def recipe_row(name: str, predictor, sets: dict[str, pd.DataFrame], minutes: str) -> list:
    cells = [
        accuracy_and_confident_errors(predictor.predict(frame[TEXT_COLUMN].tolist()).positive_probabilities, frame)
        for frame in sets.values()
    ]
    everyday = pd.read_csv(EVERYDAY)
    answers = np.array(predictor.predict(everyday[TEXT_COLUMN].tolist()).labels)
    right = int((answers == everyday[LABEL_COLUMN].to_numpy()).sum())
    return [name, *cells, f"{right}/{len(everyday)}", identity_changes(predictor), minutes]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", type=Path, default=REPO / "benchmarks/.work/domains")
    parser.add_argument("--preset", default="quick")
    parser.add_argument("--recipes", nargs="*", default=list(RECIPES), help=f"of: {', '.join(RECIPES)}")
    parser.add_argument("--reuse", action="store_true", help="keep a recipe's model already trained there")
    args = parser.parse_args()
    workspace = args.workspace.resolve()
    prepare_workspace(workspace)
    test = data.read_split(workspace / "data/processed", "test")
    sets = {d: test[test["domain"] == d] for d in sorted(set(test["domain"])) if mix.source_of(d) == mix.REVIEWS_SOURCE}
    sets["SST-2 test"] = importers.import_sst2(SHARED / "sst2", splits=("test",)).frame
    sets["airline"] = importers.import_airline(SHARED / "airline" / "Tweets.csv").frame
    rows = []
    for name in args.recipes:
        recipe = f"{args.preset}-{name.replace(' ', '').replace(':', '').replace(',', '-').replace('+', '-')}"
        predictor = served_model(workspace, args.preset, recipe, RECIPES[name], args.reuse)
        rows.append(recipe_row(name, predictor, sets, training_minutes(workspace, recipe)))
    machine = machine_summary()
    print_table(
        f"Recipes of `{args.preset}`, int8 as served: accuracy % (confident errors %), {machine}",
        ["recipe", *sets, "everyday praise", "identity: worst group, % of pairs changed", "training min"],
        rows,
    )


if __name__ == "__main__":
    main()
