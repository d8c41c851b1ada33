"""The commands and flags users type stay what they were: the parser tree against a checked-in table.

The table (``tests/fixtures/cli_flags.json``) was generated from the single-module ``cli.py`` before it
became a package by command group; a change to a command's name, options, defaults, choices or help shows up
here as a diff to review. Regenerate it on purpose with ``python -m tests.cli.test_flags --write``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pytest

from sentiment_lib.cli import build_parser
from sentiment_lib.workspace import default_root
from tests.helpers import REPO

TABLE = REPO / "tests" / "fixtures" / "cli_flags.json"
# --workspace defaults to $SENTIMENT_WORKSPACE or the current folder: the same parser, wherever it is built
WORKSPACE_DEFAULT = "<default_root()>"


def _plain(value: object) -> object:
    """``value`` as JSON can hold it, naming what depends on where the test runs."""
    if value == default_root():
        return WORKSPACE_DEFAULT
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if callable(value):
        return getattr(value, "__name__", type(value).__name__)
    return value


def _groups(parser: argparse.ArgumentParser) -> tuple[dict[int, str], dict[int, int]]:
    """Each action's argument group title (help sections) and mutually exclusive group number."""
    titles = {id(a): group.title for group in parser._action_groups for a in group._group_actions}
    exclusive = {id(a): n for n, group in enumerate(parser._mutually_exclusive_groups) for a in group._group_actions}
    return titles, exclusive


def _argument(action: argparse.Action, titles: dict[int, str], exclusive: dict[int, int]) -> dict:
    return {
        "flags": list(action.option_strings) or [action.dest],
        "dest": action.dest,
        "action": type(action).__name__,
        "default": _plain(action.default),
        "const": _plain(action.const),
        "choices": _plain(list(action.choices)) if action.choices is not None else None,
        "required": action.required,
        "nargs": action.nargs,
        "metavar": _plain(action.metavar),
        "type": _plain(action.type),
        "help": action.help,
        "group": titles.get(id(action)),
        "exclusive": exclusive.get(id(action)),
    }


def _subcommands(parser: argparse.ArgumentParser) -> argparse._SubParsersAction:
    return next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))


def _command(parser: argparse.ArgumentParser, help_text: str | None) -> dict:
    titles, exclusive = _groups(parser)
    arguments = [
        _argument(a, titles, exclusive) for a in parser._actions if not isinstance(a, argparse._SubParsersAction)
    ]
    # set_defaults values a handler reads (which steps, whether it takes the lock); the handler itself is code
    defaults = {k: _plain(v) for k, v in sorted(parser._defaults.items()) if not callable(v)}
    return {"help": help_text, "arguments": arguments, "defaults": defaults}


def parser_table(parser: argparse.ArgumentParser) -> dict:
    """Every command (``""``: the top level) in the order ``--help`` lists them, with its arguments."""
    commands = _subcommands(parser)
    helps = {choice.dest: choice.help for choice in commands._choices_actions}
    table = {"": _command(parser, parser.description)}
    for name, sub in commands.choices.items():
        table[name] = _command(sub, helps.get(name))
    return table


def test_every_command_and_flag_is_as_the_table_says():
    expected = json.loads(TABLE.read_text())
    actual = json.loads(json.dumps(parser_table(build_parser())))
    assert list(actual) == list(expected), "the commands, in the order --help lists them"
    for name in expected:
        assert actual[name] == expected[name], f"command {name or '(top level)'!r}"


def test_the_table_is_not_empty():
    table = json.loads(TABLE.read_text())
    assert {"import-data", "batch", "serve", "replay", "promote"} <= set(table)
    flags = {f for a in table["batch"]["arguments"] for f in a["flags"]}
    assert {"--input_path", "--input-path", "--engine", "--conf", "--workspace"} <= flags


@pytest.mark.parametrize("command", ["batch", "serve", "replay", "import-data", "promote", "pipeline"])
def test_command_help_exits_0(command, capsys):
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args([command, "--help"])
    assert exit_.value.code == 0
    assert "usage: " in capsys.readouterr().out


def write_table(path: Path = TABLE) -> None:
    path.write_text(json.dumps(parser_table(build_parser()), indent=1) + "\n")


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        sys.exit("usage: python -m tests.cli.test_flags --write  (regenerates tests/fixtures/cli_flags.json)")
    write_table()
