"""The argparse types ``runner.py`` and ``app.py`` share: a value out of its range is refused by the parser, with
the option's name, before anything runs (``--max-cycles 0`` must not run a cycle, ``--port 70000`` must not
serve on port 4464)."""

from __future__ import annotations

import argparse
import math

MAX_MINUTES = 525_600


def count(text: str) -> int:
    """An argparse type: a whole number of 1 or more (cycles, rows, labels).

    Raises:
        argparse.ArgumentTypeError: anything else (argparse says so with the option's name and exits with 2).
    """
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number of 1 or more, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def minutes(text: str) -> float:
    """An argparse type: a number of minutes from 0 to a year (more would overflow the scheduler's clock).

    Raises:
        argparse.ArgumentTypeError: anything else.
    """
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of minutes, got {text!r}") from None
    if not math.isfinite(value) or not 0 <= value <= MAX_MINUTES:
        raise argparse.ArgumentTypeError(f"must be from 0 to {MAX_MINUTES} minutes (a year), got {text!r}")
    return value


def port(text: str) -> int:
    """An argparse type: a TCP port, 0 to 65535.

    Raises:
        argparse.ArgumentTypeError: anything else.
    """
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be a port from 0 to 65535, got {value}")
    return value
