"""Which labels pay? ``make replay-labels``: the served replay of ``make replay-adapt`` under label budgets.

    .venv/bin/python benchmarks/bench_labels.py [--arms active:100,random:100,random:200] [--seeds 1,2]
                                                [--days 12] [--per-cycle 500] [--final-holdout 2000]

Each arm (a label policy and a daily budget) and seed replays the same days of airline tweets through an API of
its own, in a workspace of its own under ``benchmarks/.work/labels/``, copied from the demo's workspace (the
repository after ``make demo``: its data and registry, none of its feedback, queues, state or reports, and
``@champion`` on the version ``make replay-adapt`` started from if it ran, so every arm starts from the same
champion and no label). Each day the
loop's labelling queue asks for ``budget`` of the texts served the day before, and the replay answers with the
stream's labels (see ``runner.py replay --label-policy``). A retrain is allowed every ``3 x budget`` new labels,
so every arm retrains on the same days; the seed sets the retrains' training seed and the random draws.

The table gives, per arm and seed, the labels used and the accuracy of the champion at the end on the stream's
final slice (tweets no model saw) and on the SST-2 test set, against the champion the arms started from, and the
final-slice gain of the newest version the arm trained (what its labels taught, whether or not the gate promoted
it); then the mean and range over seeds. The all-labels run of ``make replay-adapt`` is read from the repository's
``reports/replay/final.json`` when there is one, for reference. An arm already finished is read, not run again,
so a stopped run continues with the arm it stopped in, started again.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from common import REPO, SHARED, machine_summary, print_table

from sentiment_lib.arg_types import count
from sentiment_lib.experiments import adaptation
from sentiment_lib.io import read_json, write_json_atomic
from sentiment_lib.loop.replay import load_stream
from sentiment_lib.serving.process import free_port, launch_app, wait_or_kill, wait_until_healthy
from sentiment_lib.settings import settings_for
from sentiment_lib.tracking import registry, runs
from sentiment_lib.workspace import Workspace

WORK = REPO / "benchmarks" / ".work" / "labels"
# what a copy of the demo's workspace leaves out: code, caches and logs, and everything the demo's own loop or
# replay learnt (its feedback, queues, state, reports): each arm must start where the demo started
NOT_COPIED = (".venv*", ".git", "benchmarks", "wandb", "logs", "outbox", "site", "mlartifacts", "state", "reports",
              "feedback", "archive", "incoming", "quarantine", "to_label")  # fmt: skip


@dataclass(frozen=True)
class Arm:
    policy: str
    budget: int
    seed: int

    @property
    def name(self) -> str:
        return f"{self.policy}-{self.budget}-seed{self.seed}"


def parse_arms(text: str, seeds: list[int]) -> list[Arm]:
    """``active:100,random:200`` x seeds, seed by seed.

    Raises:
        SystemExit: a malformed arm.
    """
    kinds = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        policy, _, budget = item.partition(":")
        if policy not in ("active", "random") or not budget.isdigit() or int(budget) < 1:
            sys.exit(f"--arms: {item!r} is not POLICY:BUDGET with POLICY active or random and BUDGET >= 1")
        kinds.append((policy, int(budget)))
    if not kinds:
        sys.exit("--arms: no arm given (e.g. --arms active:100,random:200)")
    # seed by seed: a run stopped early has every arm of its first seeds
    return [Arm(policy, budget, seed) for seed in seeds for policy, budget in kinds]


def copy_demo_workspace(target: Path) -> None:
    """The demo's data and registry, its ``@champion`` put back on the one the demo's replay started from (the
    registry's artifacts stay where the demo wrote them: its store names them by absolute path, and new
    versions go there too)."""
    if not (REPO / "mlflow.db").is_file():
        sys.exit("No demo workspace to start from: run `make demo` first (it trains and registers the champion)")
    shutil.copytree(REPO, target, ignore=shutil.ignore_patterns(*NOT_COPIED))
    first = first_champion()
    if first:
        runs.configure_client(target)
        registry.promote(Workspace(target).registered_model, first, "bench_labels: where the demo's replay started")


def first_champion() -> str:
    """The champion the demo's airline replay started from ("" when it ran none: the champion is the demo's)."""
    state = read_json(REPO / "state" / "replay.json", {})
    return next((str(v) for k, v in state.items() if k.endswith("Tweets.csv#first_champion")), "")


def replay_command(arm: Arm, workspace: Path, url: str, args: argparse.Namespace) -> list[str]:
    # fmt: off
    return [
        sys.executable, str(REPO / "runner.py"), "replay", "--workspace", str(workspace), "--preset", args.preset,
        "--source", str(SHARED / "airline" / "Tweets.csv"), "--per-cycle", str(args.per_cycle),
        "--cycles", str(args.days), "--hours-per-cycle", "24", "--serve", url,
        "--final-holdout", str(args.final_holdout), "--label-policy", arm.policy, "--label-budget", str(arm.budget),
        "-p", "seed", str(arm.seed), "-p", "min_new_rows", str(3 * arm.budget), "-p", "feedback_weight", "2",
        # the default paths are relative to a workspace beside ../shared, which an arm's folder is not
        "-p", "sst2_test_path", str(SHARED / "sst2" / "test.tsv"),
        "-p", "airline_test_path", str(SHARED / "airline" / "Tweets.csv"),
    ]
    # fmt: on


def run_arm(arm: Arm, args: argparse.Namespace) -> dict:
    """The arm's final.json, running its replay first unless it finished before."""
    workspace = WORK / arm.name
    final = workspace / "reports" / "replay" / "final.json"
    if final.is_file():
        return with_newest(workspace, json.loads(final.read_text()), args)
    if workspace.exists():  # an arm cut short: its replay cannot take up a day half done, so it starts again
        print(f"{arm.name}: unfinished, starting it again", flush=True)
        shutil.rmtree(workspace)
    copy_demo_workspace(workspace)
    port = free_port()
    with (WORK / f"{arm.name}.api.log").open("ab") as output:
        # the challenger at nice 19, not on idle CPU time only: between a replayed day's requests the loop trains
        # on every core, and a starved challenger would leave the queue without the disagreements it asks for
        env = {**os.environ, "SENTIMENT_SERVE_REFRESH_SECONDS": "2", "SENTIMENT_SERVE_SHADOW_CPU": "low"}
        api = launch_app(workspace, port, env=env, output=output)
        try:
            wait_until_healthy(api, f"http://127.0.0.1:{port}", str(WORK / f"{arm.name}.api.log"))
            print(f"{arm.name}: replaying {args.days} days through 127.0.0.1:{port}", flush=True)
            subprocess.run(replay_command(arm, workspace, f"http://127.0.0.1:{port}", args), check=True)
        finally:
            api.terminate()
            wait_or_kill(api)
    return with_newest(workspace, json.loads(final.read_text()), args)


def gain(result: dict, model: str = "last", score: str = "holdout_accuracy") -> float:
    """Points gained by ``model`` (the last champion, or the newest version trained) over the first champion."""
    return 100 * (result.get(model, result["last"])[score] - result["first"][score])


def with_newest(workspace: Path, result: dict, args: argparse.Namespace) -> dict:
    """``result`` with the newest trained version's scores, added (and kept in final.json) for a replay that
    finished before the replay wrote them."""
    if "newest" in result:
        return result
    before = newest_in_demo()  # every arm's registry starts as a copy of the demo's
    runs.configure_client(workspace)
    ws = Workspace(workspace, settings_for(args.preset, {"sst2_test_path": str(SHARED / "sst2" / "test.tsv")}))
    newest = adaptation.newest_after(ws.registered_model, before, result["last"]["version"])
    if newest is None:
        result["newest"] = result["last"]
    else:
        holdout = load_stream(SHARED / "airline" / "Tweets.csv").tail(result["holdout_rows"]).reset_index(drop=True)
        scores, _ = adaptation.final_scores(ws, [newest], holdout)
        result["newest"] = asdict(scores[0])
    write_json_atomic(workspace / "reports" / "replay" / "final.json", result)
    return result


def newest_in_demo() -> str:
    runs.configure_client(REPO)
    return registry.newest_version(Workspace(REPO).registered_model)


def row(label: str, seed: str, result: dict) -> list:
    first, last = result["first"], result["last"]
    newest = result.get("newest", last)
    champions = f"v{first['version']} -> v{last['version']}"
    return [label, seed, result["labels"], f"{100 * last['holdout_accuracy']:.2f}", f"{gain(result):+.2f}",
            f"{100 * last['sst2_accuracy']:.2f}", f"{gain(result, score='sst2_accuracy'):+.2f}", champions,
            f"v{newest['version']}: {gain(result, 'newest'):+.2f}"]  # fmt: skip


def spread(label: str, results: list[dict]) -> list:
    gains = [gain(r) for r in results]
    newest = [gain(r, "newest") for r in results]
    sst2 = sum(gain(r, score="sst2_accuracy") for r in results) / len(results)
    labels = sum(r["labels"] for r in results) / len(results)
    return [label, f"mean of {len(results)}", f"{labels:.0f}", "", f"{mean_and_range(gains)}", "", f"{sst2:+.2f}", "",
            mean_and_range(newest)]  # fmt: skip


def parse_seeds(text: str) -> list[int]:
    """``1,2`` -> [1, 2].

    Raises:
        SystemExit: a seed that is not a whole number, or none.
    """
    seeds = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        try:
            seeds.append(int(item))
        except ValueError:
            sys.exit(f"--seeds: {item!r} is not a whole number (e.g. --seeds 1,2)")
    if not seeds:
        sys.exit("--seeds: no seed given (e.g. --seeds 1,2)")
    return seeds


def mean_and_range(values: list[float]) -> str:
    return f"{sum(values) / len(values):+.2f} ({min(values):+.2f} to {max(values):+.2f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arms", default="active:100,random:100,random:200", help="POLICY:BUDGET, comma-separated")
    parser.add_argument("--seeds", default="1,2", help="comma-separated training and sampling seeds")
    parser.add_argument("--days", type=count, default=12)
    parser.add_argument("--per-cycle", type=count, default=500)
    parser.add_argument("--final-holdout", type=count, default=2000)
    parser.add_argument("--preset", default="quick")
    args = parser.parse_args()
    arms = parse_arms(args.arms, parse_seeds(args.seeds))
    WORK.mkdir(parents=True, exist_ok=True)
    results = {arm: run_arm(arm, args) for arm in arms}
    rows = [row(f"{arm.policy}, {arm.budget} a day", str(arm.seed), result) for arm, result in results.items()]
    for policy, budget in dict.fromkeys((arm.policy, arm.budget) for arm in arms):
        same = [r for arm, r in results.items() if (arm.policy, arm.budget) == (policy, budget)]
        rows.append(spread(f"{policy}, {budget} a day", same))
    reference = REPO / "reports" / "replay" / "final.json"
    if reference.is_file():
        rows.append(row("all labels (make replay-adapt, reference)", "-", json.loads(reference.read_text())))
    header = ["policy", "seed", "labels used", "final slice %", "gain (points)", "SST-2 %", "SST-2 change",
              "champion", "newest trained: gain"]  # fmt: skip
    title = (f"{args.days} simulated days of {args.per_cycle} tweets, final slice {args.final_holdout} tweets; "
             f"{machine_summary()}")  # fmt: skip
    print_table(title, header, rows)


if __name__ == "__main__":
    main()
