"""What the shared and server options mean: counts and minutes refused below their range, --log-format given
before the command stands, ``serve --background`` starts its server with every option given, and ``import-data``
writes into --workspace."""

from __future__ import annotations

import pytest

from sentiment_lib.cli import parse_args
from sentiment_lib.serving import main as server
from sentiment_lib.serving.process import _reachable


def test_log_format_before_or_after_serve_is_kept_and_text_is_the_default():
    assert parse_args(["--log-format", "json", "serve"]).log_format == "json"
    assert parse_args(["serve", "--log-format", "json"]).log_format == "json"
    assert parse_args(["serve"]).log_format == "text"
    assert parse_args(["--log-format", "json", "report"]).log_format == "json"


def test_a_background_server_gets_every_server_option_given(tmp_path):
    given = ["--host", "0.0.0.0", "--port", "5055", "--threads", "4", "--refresh-seconds", "2.5"]
    given += ["--no-micro-batching", "--workers", "2", "--public-status", "--log-format", "json"]
    args = parse_args(["serve", "--background", "--workspace", str(tmp_path), *given])
    # the detached process parses what it is given as app.py would: the same server, not the defaults
    detached = server.parse_args(server.detached_args(args))
    for name in ("host", "port", "threads", "refresh_seconds", "no_micro_batching", "workers", "public_status"):
        assert getattr(detached, name) == getattr(args, name), name
    assert (detached.workspace, detached.log_format) == (str(tmp_path), "json")
    assert server.parse_args(server.detached_args(parse_args(["serve", "--debug"]))).debug


def test_a_background_server_is_called_on_an_address_it_listens_on():
    assert _reachable("0.0.0.0") == _reachable("::") == "127.0.0.1"
    assert (_reachable("127.0.0.2"), _reachable("::1")) == ("127.0.0.2", "[::1]")


@pytest.mark.parametrize(
    ("given", "said"),
    [
        (["loop", "--max-cycles", "0"], "argument --max-cycles: must be at least 1, got 0"),
        (["loop", "--every", "-5"], "argument --every: must be from 0 to 525600 minutes (a year), got '-5'"),
        (["loop", "--every", "inf"], "argument --every: must be from 0 to 525600 minutes (a year), got 'inf'"),
        (["loop", "--every", "1e308"], "argument --every: must be from 0 to 525600 minutes"),  # overflowed later
        (["loop", "--every", "soon"], "argument --every: expected a number of minutes, got 'soon'"),
        (["replay", "--source", "s.csv", "--per-cycle", "0"], "argument --per-cycle: must be at least 1, got 0"),
        (["replay", "--source", "s.csv", "--per-cycle", "2.5"], "expected a whole number of 1 or more, got '2.5'"),
        (["replay", "--source", "s.csv", "--per-cycle", "5", "--cycles", "-1"], "--cycles: must be at least 1, got -1"),
        (
            ["replay", "--source", "s.csv", "--per-cycle", "5", "--label-budget", "0"],
            "--label-budget: must be at least",
        ),
    ],
)
def test_a_count_or_a_wait_out_of_range_is_refused_by_the_parser(given, said, capsys):
    # --max-cycles 0 ran one cycle and --cycles 0 the whole stream, and a negative --every was taken
    with pytest.raises(SystemExit) as exit_:
        parse_args(given)
    assert exit_.value.code == 2 and said in capsys.readouterr().err


def test_counts_and_minutes_in_range_are_kept():
    args = parse_args(["replay", "--source", "s.csv", "--per-cycle", "5", "--cycles", "1", "--every", "0"])
    assert (args.per_cycle, args.cycles, args.every) == (5, 1, 0.0)
    assert parse_args(["loop", "--every", "0.5", "--max-cycles", "3"]).every == 0.5


@pytest.mark.parametrize(
    ("given", "said"),
    [
        (["--port", "70000"], "argument --port: must be a port from 0 to 65535, got 70000"),  # served on 4464
        (["--port", "http"], "argument --port: expected a port number, got 'http'"),
        (["--threads", "0"], "argument --threads: must be at least 1, got 0"),
        (["--workers", "0"], "argument --workers: must be at least 1, got 0"),
    ],
)
def test_a_server_option_out_of_range_is_refused_by_the_parser(given, said, capsys):
    for parse in (server.parse_args, lambda argv: parse_args(["serve", *argv])):
        with pytest.raises(SystemExit) as exit_:
            parse(given)
        assert exit_.value.code == 2 and said in capsys.readouterr().err


@pytest.mark.parametrize("given", [["--port", "70000"], ["--workers", "0"]])
def test_the_tracking_server_refuses_a_port_or_worker_count_out_of_range(given, capsys):
    with pytest.raises(SystemExit) as exit_:
        parse_args(["tracking-server", *given])
    assert exit_.value.code == 2 and f"argument {given[0]}: must be" in capsys.readouterr().err
