"""The notebook commands: one step (``preprocess`` ... ``explore``), ``pipeline``, ``params``, ``report``."""

from __future__ import annotations

import argparse
import time

from sentiment_lib import notebooks, reports
from sentiment_lib.cli.options import add_step_options, add_wait, add_workspace, workspace_of
from sentiment_lib.tracking import runs


def add_notebook_steps(commands: argparse._SubParsersAction) -> None:
    for step, notebook in notebooks.STEPS.items():
        sub = commands.add_parser(step, help=f"run notebooks/{notebook} with papermill")
        add_step_options(sub)
        sub.set_defaults(handler=cmd_steps, steps=[step], writes_workspace=True)


def add_pipeline(commands: argparse._SubParsersAction) -> None:
    sub = commands.add_parser("pipeline", help="preprocess -> train -> evaluate in one cycle")
    add_step_options(sub)
    sub.set_defaults(handler=cmd_steps, steps=list(notebooks.TRAINING_STEPS), writes_workspace=True)


def cmd_steps(args: argparse.Namespace) -> int:
    overrides = dict(args.parameter)
    started = time.time()
    outputs = notebooks.run_steps(args.steps, args.preset, overrides, args.workspace, args.cycle)
    ws = workspace_of(args)
    print(f"\nExecuted notebooks: {', '.join(str(p) for p in outputs)}")
    print(f"Reports: {ws.index}")
    print(f"MLflow store: {runs.describe_store(ws.root)}")
    print(f"  open it with: {runs.ui_command(ws.root)}")
    wandb_run = runs.latest_wandb_run(ws.root, since=started)
    if wandb_run:
        print(f"wandb offline run: {wandb_run}  (upload later with `wandb sync {wandb_run}`)")
    return 0


def add_params(commands: argparse._SubParsersAction) -> None:
    sub = commands.add_parser("params", help="list the parameters a step's notebook declares")
    sub.add_argument("step", choices=list(notebooks.STEPS))
    sub.set_defaults(handler=cmd_params)


def cmd_params(args: argparse.Namespace) -> int:
    for name, info in notebooks.declared_parameters(args.step).items():
        print(f"{name:28} {info['inferred_type_name']:6} {info['default']:34} {info['help']}")
    return 0


def add_report(commands: argparse._SubParsersAction) -> None:
    sub = commands.add_parser("report", help="rebuild reports/index.html from the cycle folders")
    add_workspace(sub)
    add_wait(sub)
    sub.set_defaults(handler=cmd_report, writes_workspace=True)


def cmd_report(args: argparse.Namespace) -> int:
    print(reports.write_index(workspace_of(args).reports))
    return 0
