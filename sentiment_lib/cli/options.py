"""The options several commands share, declared once: ``--workspace``, ``--wait``, ``--preset``, ``-p``, ``--cycle``.

Also what they mean together: :func:`workspace_of` is the workspace a command works on.
"""

from __future__ import annotations

import argparse

from sentiment_lib import notebooks
from sentiment_lib.settings import PRESETS, settings_for
from sentiment_lib.workspace import Workspace, default_root


def add_workspace(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--workspace",
        default=default_root(),
        help="folder holding data/, reports/, mlflow.db (default: $SENTIMENT_WORKSPACE, else the current folder)",
    )


def add_wait(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--wait",
        action="store_true",
        help="if another command is writing the workspace, wait for it (default: exit with a message)",
    )


def add_settings(parser: argparse.ArgumentParser) -> None:
    """``--preset`` and ``-p NAME VALUE``: the settings (and notebook parameters) a command runs with."""
    parser.add_argument("--preset", choices=sorted(PRESETS), help="settings preset (default: quick)")
    parser.add_argument(
        "-p",
        "--parameter",
        nargs=2,
        action="append",
        default=[],
        metavar=("NAME", "VALUE"),
        help="override a setting or notebook parameter; repeatable (see `runner.py params STEP`)",
    )


def add_step_options(parser: argparse.ArgumentParser, with_cycle_id: bool = True) -> None:
    """What every command that runs notebooks or cycles takes: settings, the cycle id, workspace, wait."""
    add_settings(parser)
    if with_cycle_id:
        parser.add_argument("--cycle", help="cycle id, the folder under reports/ (default: a UTC timestamp)")
    add_workspace(parser)
    add_wait(parser)


def workspace_of(args: argparse.Namespace) -> Workspace:
    """The workspace a command works on, with the settings its preset and ``-p`` overrides give.

    Raises:
        ConfigError: a ``-p`` name that is neither a setting nor a notebook parameter (a typo must not be ignored).
    """
    overrides = notebooks.check_overrides(dict(getattr(args, "parameter", [])))
    return Workspace(args.workspace, settings_for(getattr(args, "preset", None), overrides))
