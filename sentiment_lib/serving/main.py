"""The API server: ``sentiment serve`` and ``python app.py`` (127.0.0.1:5000 by default).

Production server: waitress; ``--workers N`` runs N of them on one port (:mod:`sentiment_lib.serving.workers`).
``--debug`` runs Flask's development server instead. Each worker is this module run again with the parent's
options (``python -m sentiment_lib.serving.main``), so an installed package needs no checkout.
"""

from __future__ import annotations

import argparse
import logging
import os
import resource
import signal
import socket
import sys
from typing import TYPE_CHECKING

from dotenv import load_dotenv

from sentiment_lib import logs
from sentiment_lib.arg_types import count, port
from sentiment_lib.errors import SentimentError
from sentiment_lib.serving.access import is_loopback
from sentiment_lib.settings import apply_offline_defaults
from sentiment_lib.workspace import ENV_FILE, default_root

if TYPE_CHECKING:
    from sentiment_lib.settings import ServeConfig


def add_arguments(parser: argparse.ArgumentParser, log_format_default: str = "text") -> None:
    """The server's options: ``app.py`` and ``sentiment serve`` take the same ones.

    ``sentiment serve`` passes ``argparse.SUPPRESS`` as ``log_format_default``: its top level has
    ``--log-format`` too, and a subcommand's default would overwrite the value given there.
    """
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    parser.add_argument("--port", type=port, default=5000, help="port (default: 5000)")
    parser.add_argument("--threads", type=count, help="waitress worker threads (default: 16, SENTIMENT_SERVE_THREADS)")
    parser.add_argument(
        "--workspace", default=default_root(), help="folder holding mlflow.db (default: $SENTIMENT_WORKSPACE or .)"
    )
    parser.add_argument("--refresh-seconds", type=float, help="how often to check @champion (default: 10)")
    parser.add_argument("--no-micro-batching", action="store_true", help="answer each /predict on its own")
    parser.add_argument("--workers", type=count, default=1, help="server processes sharing the port (default: 1)")
    parser.add_argument(
        "--public-status",
        action="store_true",
        help="open the status page (/) and reports to anyone who can reach --host (default: loopback only, "
        "or with ADMIN_TOKEN)",
    )
    parser.add_argument("--debug", action="store_true", help="Flask development server with reloader off")
    logs.add_format_option(parser, log_format_default)
    parser.add_argument("--log-file", help="log to this file instead of stderr, rotated at 10 MB (5 kept)")
    parser.add_argument("--socket-fd", type=int, help=argparse.SUPPRESS)  # a worker's inherited listening socket


def check_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Refuse combinations that cannot work or are unsafe (exits with the parser's usage message)."""
    if args.debug and args.workers > 1:
        parser.error("--debug runs one development server; drop --workers")
    if args.debug and not is_loopback(args.host):
        # Werkzeug's debugger runs any Python code a visitor types into an error page
        parser.error(f"--debug serves only on a loopback address, not {args.host}: its debugger runs code")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    args = parser.parse_args(argv)
    check_arguments(parser, args)
    return args


def worker_args(args: argparse.Namespace) -> list[str]:
    """The options each worker process gets: the parent's own, but for --workers."""
    options = ["--host", args.host, "--port", str(args.port)]
    options += ["--threads", str(args.threads)] if args.threads is not None else []
    options += ["--workspace", args.workspace]
    if args.refresh_seconds is not None:
        options += ["--refresh-seconds", str(args.refresh_seconds)]
    options += ["--public-status"] if args.public_status else []
    options += ["--log-format", args.log_format]
    options += ["--log-file", args.log_file] if args.log_file else []
    return options + (["--no-micro-batching"] if args.no_micro_batching else [])


def detached_args(args: argparse.Namespace) -> list[str]:
    """The options ``sentiment serve --background`` starts its server with: the user's own, --workers and
    --debug included."""
    options = worker_args(args) + (["--workers", str(args.workers)] if args.workers != 1 else [])
    return options + (["--debug"] if args.debug else [])


def run_workers(args: argparse.Namespace) -> int:
    from sentiment_lib.serving.process import server_command
    from sentiment_lib.serving.workers import Workers, bind

    listener = bind(args.host, args.port)
    logging.getLogger("app").info("Serving on http://%s:%d with %d workers", args.host, args.port, args.workers)
    return Workers(listener, args.workers, [*server_command(), *worker_args(args)]).run()


def waitress_options(config: ServeConfig) -> dict:
    """waitress's limits from the serving settings (docs/serving.md "Security")."""
    allow_open_files(config.connection_limit + 256)  # each connection is a descriptor; models and logs need more
    return {
        "threads": config.threads,
        "ident": "sentiment",
        # waitress refuses a body over the limit (by Content-Length, or once a chunked body passes it) before
        # reading it in full; Flask's own check would come only after waitress had buffered the whole body
        "max_request_body_size": config.max_body_bytes,
        "connection_limit": config.connection_limit,
        "channel_timeout": config.channel_timeout_seconds,
        "cleanup_interval": max(1, min(30, config.channel_timeout_seconds // 2)),
        "asyncore_use_poll": True,  # select() fails on descriptors past 1023, which a high limit reaches
        # waitress drops forwarding headers from peers it does not trust; the app needs to see them to know that
        # a loopback peer (a proxy on this host) is forwarding for someone else (sentiment_lib/serving/access.py)
        "clear_untrusted_proxy_headers": False,
    }


def allow_open_files(wanted: int) -> None:
    """Raise this process's soft limit on open files towards ``wanted`` (never past the hard limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def stop_serving(signum: int, frame: object) -> None:
    """SIGTERM as Ctrl-C: waitress lets the requests in progress finish, then :func:`serve` stops the watchers."""
    raise SystemExit(0)


def main(argv: list[str] | None = None) -> int:
    """``app.py`` (and each worker): serve, or log why not (a setting out of range, no registry) in one line and
    exit 2, as ``runner.py`` does, not with a traceback."""
    try:
        return serve(parse_args(argv))
    except SentimentError as err:  # serve() has configured the log (format, file) before anything can raise this
        logging.getLogger("app").error("%s", err)
        return 2


def serve(args: argparse.Namespace) -> int:
    """Serve until stopped (SIGTERM, Ctrl-C); the options are :func:`add_arguments`'."""
    from sentiment_lib.serving.api import close_app, create_app  # Flask and the model: only when serving
    from sentiment_lib.settings import ServeConfig

    load_dotenv(os.path.join(args.workspace, ENV_FILE), override=False)
    apply_offline_defaults()
    handlers = [logs.rotating_file(args.log_file)] if args.log_file else []
    logs.configure(args.log_format, handlers=handlers)
    if args.workers > 1 and args.socket_fd is None:
        return run_workers(args)
    config = ServeConfig.from_env(
        workspace=args.workspace,
        refresh_seconds=args.refresh_seconds,
        micro_batching=False if args.no_micro_batching else None,
        host=args.host,
        public_status=True if args.public_status else None,
        access_log=True if args.log_format == "json" else None,
        threads=args.threads,
    )
    app = create_app(config)
    if args.debug:
        app.run(host=args.host, port=args.port, debug=True, use_reloader=False, threaded=True)
        return 0
    import waitress

    logging.getLogger("app").info("Serving on http://%s:%d (threads=%d)", args.host, args.port, config.threads)
    options = waitress_options(config)
    signal.signal(signal.SIGTERM, stop_serving)
    try:
        if args.socket_fd is not None:  # a worker of --workers: the parent's socket, already listening
            waitress.serve(app, sockets=[socket.socket(fileno=args.socket_fd)], **options)
        else:
            waitress.serve(app, host=args.host, port=args.port, **options)
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):  # a second signal must not cut the clean stop short
            signal.signal(signum, signal.SIG_IGN)
        close_app(app)
    return 0


if __name__ == "__main__":
    sys.exit(main())
