"""Command line of the sentiment pipeline: import data, run the notebooks, rebuild the reports.

``python runner.py`` and the installed ``sentiment`` command both run :func:`main`. Run ``--help`` for the
list of commands and ``COMMAND --help`` for one.

Each module of this package holds one group of commands, each declared (``add_*``) right beside its handler
(``cmd_*``); :mod:`~sentiment_lib.cli.options` declares the options they share. This module builds the parser
from them, runs the command and turns its errors into exit statuses.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from dotenv import load_dotenv

from sentiment_lib import logs
from sentiment_lib.cli import batch, data, labeling, loop, serve, steps, tracking
from sentiment_lib.cli.options import workspace_of
from sentiment_lib.errors import SentimentError, StepFailedError
from sentiment_lib.locking import workspace_lock
from sentiment_lib.workspace import ENV_FILE, Workspace

log = logging.getLogger("runner")

# every command, in the order --help lists them
COMMANDS = (
    data.add_import_data,
    steps.add_notebook_steps,
    steps.add_pipeline,
    loop.add_once,
    loop.add_loop,
    loop.add_replay,
    loop.add_ack,
    loop.add_rebaseline,
    data.add_ingest,
    labeling.add_label,
    batch.add_batch,
    batch.add_explain,
    serve.add_serve,
    tracking.add_promote,
    tracking.add_tracking_server,
    steps.add_params,
    steps.add_report,
    serve.add_api_key,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    logs.add_format_option(parser)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in COMMANDS:
        add(commands)
    return parser


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line, with the checks a command asks for beyond argparse's (exits 2 with the usage)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if check := getattr(args, "check_arguments", None):
        check(parser, args)
    return args


def _run_command(args: argparse.Namespace) -> int:
    """Run the command; one that writes the workspace holds its lock (a loop cycle takes it itself)."""
    if not getattr(args, "writes_workspace", False):
        return args.handler(args)
    # the lock lives in the fixed layout (state/): the command itself checks its -p overrides, with its message
    with workspace_lock(Workspace(args.workspace), f"runner.py {args.command}", wait=args.wait):
        return args.handler(args)


def _configure_logging(args: argparse.Namespace) -> None:
    handlers: list[logging.Handler] = [logging.StreamHandler()]
    if args.handler in loop.UNATTENDED:
        # the unattended commands also keep their log on disk
        handlers.append(logs.rotating_file(workspace_of(args).runner_log))
    logs.configure(args.log_format, logging.DEBUG if args.verbose else logging.INFO, handlers)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # Secrets (wandb key, SMTP password) may live in a git-ignored .env; real env vars win over it.
    load_dotenv(Path(getattr(args, "workspace", ".")) / ENV_FILE, override=False)
    try:
        _configure_logging(args)
        return _run_command(args)
    except StepFailedError as err:
        log.error("%s", err)
        log.error("The executed notebook is kept for inspection: %s", err.executed_notebook)
        return 1
    except SentimentError as err:
        log.error("%s", err)
        return 2
    except OSError as err:  # a full disk, a file-size limit, a folder without permission: say which, plainly
        log.error("%s failed on the file system: %s", args.command, err)
        return 2
