"""What the deploy files may name: the options each ``sentiment`` command accepts (from its real ``--help``)
and the environment variables the project reads (from the sources), shared by the tests of ``deploy/`` and
the ``Dockerfile``."""

from __future__ import annotations

import ast
import functools
import re
import subprocess
import sys

from sentiment_lib.settings.reference import variables
from tests.helpers import REPO

WORKSPACE = "/var/lib/sentiment"
INSTALLED_SENTIMENT = "/opt/sentiment/venv/bin/sentiment"
# read by libraries the project runs, not by its own code
THIRD_PARTY_ENV = {
    "MLFLOW_TRACKING_URI",
    "WANDB_MODE",
    "WANDB_API_KEY",
    "HF_HUB_OFFLINE",
    "TRANSFORMERS_OFFLINE",
    "HOME",
    "XDG_CACHE_HOME",
    "MPLCONFIGDIR",
    "PROMETHEUS_MULTIPROC_DIR",
    "PGPASSWORD",  # libpq (psycopg): the password of a postgresql:// tracking store without one in the URL
}
_ENV_NAME = re.compile(r"[A-Z][A-Z0-9_]*")
_OPTION = re.compile(r"(?<![\w-])(--[a-z][a-z0-9-]*)")


@functools.cache
def runner_help(*command: str) -> str:
    """``runner.py [COMMAND] --help`` as a user sees it.

    Raises:
        AssertionError: the command does not exist (non-zero exit).
    """
    done = subprocess.run(
        [sys.executable, str(REPO / "runner.py"), *command, "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )
    assert done.returncode == 0, f"runner.py {' '.join(command)} --help failed: {done.stderr}"
    return done.stdout


@functools.cache
def commands() -> frozenset[str]:
    """The subcommands ``runner.py --help`` lists."""
    usage = runner_help()
    listed = re.search(r"^positional arguments:\n\s+COMMAND\n(.*?)^\S", usage, re.S | re.M)
    assert listed, usage
    return frozenset(re.findall(r"^ {4}([a-z][a-z-]*)", listed.group(1), re.M))


@functools.cache
def accepted_options(command: str) -> frozenset[str]:
    """The long options ``runner.py COMMAND --help`` shows."""
    return frozenset(_OPTION.findall(runner_help(command)))


def unknown_options(args: list[str]) -> list[str]:
    """The problems of a ``sentiment`` argument list (``[COMMAND, *options]``): an unknown command, or options
    that command does not accept (``--name=value`` counts as ``--name``)."""
    if not args or args[0] not in commands():
        return [f"unknown command {args[:1]}"]
    used = [arg.split("=", 1)[0] for arg in args[1:] if arg.startswith("--")]
    return [option for option in used if option not in accepted_options(args[0])]


def option_value(args: list[str], option: str) -> str | None:
    """The value after ``option`` (or in ``option=value``) in an argument list, or None."""
    for i, arg in enumerate(args):
        if arg == option and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith(option + "="):
            return arg.split("=", 1)[1]
    return None


@functools.cache
def project_env_names() -> frozenset[str]:
    """Every variable the project reads: those the settings models declare, upper-case string literals in
    ``sentiment_lib`` (variables it sets for the tools it runs), and :data:`THIRD_PARTY_ENV`."""
    names = set(THIRD_PARTY_ENV)
    for path in (REPO / "sentiment_lib").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and _ENV_NAME.fullmatch(node.value):
                names.add(node.value)
    names.update(variables())
    return frozenset(names)


def unknown_env_names(names: list[str] | set[str]) -> list[str]:
    return sorted(name for name in names if name not in project_env_names())
