"""The registry and tracking commands: ``promote`` (a version @champion by hand) and ``tracking-server``."""

from __future__ import annotations

import argparse
import subprocess
from pathlib import Path

from sentiment_lib import reports
from sentiment_lib.arg_types import count, port
from sentiment_lib.cli.options import add_wait, add_workspace, workspace_of
from sentiment_lib.clock import as_text, wall_now
from sentiment_lib.errors import ConfigError
from sentiment_lib.settings import CHAMPION
from sentiment_lib.tracking import registry, runs
from sentiment_lib.tracking import server as tracking


def add_promote(commands: argparse._SubParsersAction) -> None:
    sub = commands.add_parser("promote", help="make VERSION @champion by hand (a rollback), with the reason recorded")
    sub.add_argument("version", help="the registered version, e.g. 3 (see the status page or the MLflow UI)")
    sub.add_argument("--reason", required=True, help="why, kept on the version (and on the one it replaces)")
    add_workspace(sub)
    add_wait(sub)
    sub.set_defaults(handler=cmd_promote, writes_workspace=True)


def cmd_promote(args: argparse.Namespace) -> int:
    if not args.reason.strip():
        raise ConfigError("--reason must say why (it is kept for the next operator)")
    ws = workspace_of(args)
    runs.configure_client(ws.root)
    previous = registry.promote_by_hand(ws.registered_model, args.version, args.reason.strip())
    reports.append_event(ws.reports, as_text(wall_now()), "promoted", args.version)
    replaced = f"version {previous.version}" if previous is not None else "no champion"
    print(f"Version {args.version} of {ws.registered_model} is now @{CHAMPION} (was {replaced}): {args.reason}")
    print("A running API switches to it at its next refresh (SENTIMENT_SERVE_REFRESH_SECONDS, 10 s by default).")
    return 0


def add_tracking_server(commands: argparse._SubParsersAction) -> None:
    sub = commands.add_parser("tracking-server", help="run a shared MLflow tracking server in the foreground")
    sub.add_argument("--folder", default=tracking.DEFAULT_FOLDER, help="holds its SQLite store and artifacts")
    sub.add_argument("--backend-store-uri", help="a database URL instead, e.g. postgresql://user@host/mlflow")
    sub.add_argument("--host", default=tracking.DEFAULT_HOST, help="address to bind (default: 127.0.0.1 only)")
    sub.add_argument("--port", type=port, default=tracking.DEFAULT_PORT)
    sub.add_argument("--workers", type=count, default=2, help="server processes (default: 2)")
    sub.set_defaults(handler=cmd_tracking_server)


def cmd_tracking_server(args: argparse.Namespace) -> int:
    command = tracking.server_command(args.folder, args.backend_store_uri, args.host, args.port, args.workers)
    Path(args.folder).mkdir(parents=True, exist_ok=True)
    url = f"http://{args.host}:{args.port}"
    print(f"MLflow tracking server on {url} (store: {args.backend_store_uri or tracking.default_backend(args.folder)})")
    print(f"Point the runner, app.py and Spark at it with: export MLFLOW_TRACKING_URI={url}")
    return subprocess.run(command).returncode
