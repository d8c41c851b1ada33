"""The API commands: ``serve`` (the server app.py runs, here or detached) and ``api-key`` (a key for it)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sentiment_lib.cli.options import workspace_of
from sentiment_lib.serving import main as server
from sentiment_lib.serving import process


def add_serve(commands: argparse._SubParsersAction) -> None:
    sub = commands.add_parser("serve", help="serve the API in the foreground (what app.py does), or --background")
    # runner.py's own --log-format (before the command) stands unless this one is given
    server.add_arguments(sub, log_format_default=argparse.SUPPRESS)
    sub.add_argument(
        "--background",
        action="store_true",
        help="start it detached on HOST:PORT with the options above (pid in logs/app.pid, log in logs/app.log "
        "unless --log-file) and show a working curl call (make demo)",
    )
    # checked against runner.py's whole parser, so a refusal shows the usage a user typed from
    sub.set_defaults(handler=cmd_serve, check_arguments=server.check_arguments)


def cmd_serve(args: argparse.Namespace) -> int:
    if not args.background:
        return server.serve(args)
    ws = workspace_of(args)
    log_file = Path(args.log_file) if args.log_file else ws.app_log
    print(process.start_in_background(ws, args.port, server.detached_args(args), args.host, log_file))
    return 0


def add_api_key(commands: argparse._SubParsersAction) -> None:
    sub = commands.add_parser("api-key", help="make an API key for app.py (SENTIMENT_SERVE_API_KEYS_FILE)")
    sub.add_argument("action", choices=["add"])
    sub.add_argument("key_id", help="a name for the key, shown in the served log and /metrics (not secret)")
    sub.add_argument("--file", required=True, help="the keys file app.py reads (created owner-only)")
    sub.set_defaults(handler=cmd_api_key)


def cmd_api_key(args: argparse.Namespace) -> int:
    from sentiment_lib.serving import api_keys

    key = api_keys.add_key(args.file, args.key_id)
    # the key alone on stdout, for a script to capture; what it is on stderr
    print(f"Key {args.key_id!r} added to {args.file} (its digest only); it is not shown again:", file=sys.stderr)
    print(key)
    return 0
