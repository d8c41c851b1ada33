"""Behavioural pass rates per capability, one run: the lexicon and TF-IDF baselines and our models, with the
SST-2 test accuracy of each beside them.

    .venv/bin/python benchmarks/bench_behaviour.py [--workspace benchmarks/.work/accuracy] [--presets quick full]
                                                   [--cases 400] [--lever negation,negated_negative,contrast]

Our models are bench_accuracy.py's (trained the same way here when missing), on the served int8 back-end, as
the gate sees them. ``--lever CAPABILITIES`` also trains ``full`` with template sentences for those
capabilities (``-p augment_capabilities``; README "Behavioural tests") and sets it beside plain ``full``: the
lever is worth keeping only if the capabilities rise and SST-2 test accuracy does not drop. Every contender
answers the same seeded suite; a lexicon answers by the sign of its score.
"""

from __future__ import annotations

import argparse
import os
import platform
from pathlib import Path

import numpy as np
from bench_accuracy import (
    Contender,
    our_model,
    positive_labels,
    prepare_workspace,
    recipes,
    run_runner,
    textblob,
    tfidf_logistic_regression,
    vader,
)
from common import REPO, SHARED, print_table

from sentiment_lib.behaviour import suite as behaviour
from sentiment_lib.data import dataset as data
from sentiment_lib.data import importers
from sentiment_lib.data.schema import TEXT_COLUMN


def train(workspace: Path, preset: str, lever: str = "") -> None:
    common = [
        "--preset",
        preset,
        "--workspace",
        str(workspace),
        "--cycle",
        f"bench-{preset}{'-lever' if lever else ''}",
    ]
    extra = ["-p", "augment_capabilities", lever] if lever else []
    run_runner(workspace, "train", *common, *extra)
    run_runner(workspace, "evaluate", *common, "-p", "promote", "never", "-p", "behaviour_cases", "0")


def sst2_accuracy(contender: Contender, sst2) -> float:
    p_positive = contender.positive_probability(sst2[TEXT_COLUMN].tolist())
    return 100 * float(np.mean((p_positive >= 0.5) == positive_labels(sst2)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", type=Path, default=REPO / "benchmarks/.work/accuracy")
    parser.add_argument("--presets", nargs="*", default=["quick", "full"])
    parser.add_argument("--cases", type=int, default=400, help="cases per capability (the default of 03_evaluate)")
    parser.add_argument("--lever", default="", help="capabilities to augment a second full model with")
    args = parser.parse_args()
    workspace = args.workspace.resolve()
    prepare_workspace(workspace)
    wanted = [*args.presets] + ([f"full + {args.lever}"] if args.lever else [])
    for recipe in wanted:
        if recipe not in recipes(workspace):
            train(workspace, "full" if "+" in recipe else recipe, args.lever if "+" in recipe else "")
    versions = recipes(workspace)
    splits = {name: data.read_split(workspace / "data/processed", name) for name in ("train", "validation")}
    contenders = [vader(), textblob(), tfidf_logistic_regression(splits["train"], splits["validation"])]
    contenders += [our_model(recipe, versions[recipe], "onnx-int8") for recipe in wanted]
    suite = behaviour.build_suite(args.cases, seed=0)
    table = behaviour.results_table({c.name: behaviour.run_suite(suite, c.positive_probability) for c in contenders})
    rows = [
        [name, row["kind"], int(row["cases"]), *(100 * row[c.name] for c in contenders)]
        for name, row in table.iterrows()
    ]
    sst2 = importers.import_sst2(SHARED / "sst2", splits=("test",)).frame
    rows.append(["SST-2 test accuracy", "-", len(sst2), *(sst2_accuracy(c, sst2) for c in contenders)])
    machine = f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores"
    print_table(
        f"Behavioural pass rates, % ({len(suite)} cases, {len(behaviour.suite_texts(suite))} texts), {machine}",
        ["capability", "kind", "cases", *(c.name for c in contenders)],
        rows,
    )


if __name__ == "__main__":
    main()
