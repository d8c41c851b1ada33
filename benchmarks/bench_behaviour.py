"""Behavioural pass rates per capability, one run: the lexicon and TF-IDF baselines and our models, with the
SST-2 test accuracy of each beside them.

    .venv/bin/python benchmarks/bench_behaviour.py [--workspace benchmarks/.work/accuracy] [--presets quick full]
                                                   [--cases 400] [--lever negation,negated_negative,contrast]

Our models are bench_accuracy.py's (trained the same way here when missing), on the served int8 back-end, as
the gate sees them. ``--lever CAPABILITIES`` also trains ``full`` with template sentences for those
capabilities (``-p augment_capabilities``; docs/results.md "Behavioural tests") and sets it beside plain ``full``: the
lever is worth keeping only if the capabilities rise and SST-2 test accuracy does not drop. Every contender
answers the same seeded suite; a lexicon answers by the sign of its score.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from bench_accuracy import (
    Contender,
    our_model,
    positive_labels,
    prepare_workspace,
    run_runner,
    textblob,
    tfidf_logistic_regression,
    trained_recipes,
    vader,
)
from common import REPO, SHARED, machine_summary, print_table

from sentiment_lib.behaviour import suite as behaviour
from sentiment_lib.data import dataset as data
from sentiment_lib.data import importers
from sentiment_lib.data.schema import TEXT_COLUMN
from sentiment_lib.tracking import gate


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


def sst2_correct(contender: Contender, sst2) -> np.ndarray:
    return (contender.positive_probability(sst2[TEXT_COLUMN].tolist()) >= 0.5) == positive_labels(sst2)


def print_lever_verdict(without: np.ndarray, with_lever: np.ndarray) -> None:
    """The lever's change of SST-2 test accuracy, with exact McNemar p-values both ways (the gate's test)."""
    change = 100 * (with_lever.mean() - without.mean())
    better = gate.mcnemar_p_value(without, with_lever)
    print(
        f"\nThe lever on SST-2 test: {change:+.2f} points; p(better) = {better:.3f}, "
        f"p(worse) = {gate.mcnemar_p_value(with_lever, without):.3f} (one-sided exact McNemar, {len(without)} texts)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", type=Path, default=REPO / "benchmarks/.work/accuracy")
    parser.add_argument("--presets", nargs="*", default=["quick", "full"])
    parser.add_argument("--cases", type=int, default=400, help="cases per capability (the default of 03_evaluate)")
    parser.add_argument("--lever", default="", help="capabilities to augment a second full model with")
    args = parser.parse_args()
    workspace = args.workspace.resolve()
    prepare_workspace(workspace)
    wanted = [*args.presets] + (["full-lever"] if args.lever else [])  # the cycles train() names
    for recipe in wanted:
        if recipe not in trained_recipes(workspace):
            lever = recipe.endswith("-lever")
            train(workspace, recipe.removesuffix("-lever"), args.lever if lever else "")
    versions = trained_recipes(workspace)
    splits = {name: data.read_split(workspace / "data/processed", name) for name in ("train", "validation")}
    contenders = [vader(), textblob(), tfidf_logistic_regression(splits["train"], splits["validation"])]
    labels = {"full-lever": f"full + {args.lever}"}
    contenders += [our_model(labels.get(recipe, recipe), versions[recipe], "onnx-int8") for recipe in wanted]
    suite = behaviour.build_suite(args.cases, seed=0)
    table = behaviour.results_table({c.name: behaviour.run_suite(suite, c.positive_probability) for c in contenders})
    rows = [
        [name, row["kind"], int(row["cases"]), *(100 * row[c.name] for c in contenders)]
        for name, row in table.iterrows()
    ]
    sst2 = importers.import_sst2(SHARED / "sst2", splits=("test",)).frame
    correct = [sst2_correct(c, sst2) for c in contenders]
    rows.append(["SST-2 test accuracy", "-", len(sst2), *(100 * float(c.mean()) for c in correct)])
    machine = machine_summary()
    print_table(
        f"Behavioural pass rates, % ({len(suite)} cases, {len(behaviour.suite_texts(suite))} texts), {machine}",
        ["capability", "kind", "cases", *(c.name for c in contenders)],
        rows,
    )
    ours = dict(zip(wanted, correct[-len(wanted) :], strict=True))
    if args.lever and "full" in ours:
        print_lever_verdict(ours["full"], ours[wanted[-1]])


if __name__ == "__main__":
    main()
