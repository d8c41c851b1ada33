"""Serve the champion model over HTTP: ``python app.py`` (127.0.0.1:5000 by default).

Production server: waitress. ``--debug`` runs Flask's development server instead.
"""

from __future__ import annotations

import argparse
import logging
import os

from dotenv import load_dotenv

from sentiment_lib.config import apply_offline_defaults
from sentiment_lib.serving.api import ServeConfig, create_app
from sentiment_lib.workspace import ENV_FILE


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=5000, help="port (default: 5000)")
    parser.add_argument("--threads", type=int, default=16, help="waitress worker threads (default: 16)")
    parser.add_argument("--workspace", default=".", help="folder holding mlflow.db (default: .)")
    parser.add_argument("--refresh-seconds", type=float, help="how often to check @champion (default: 10)")
    parser.add_argument("--no-micro-batching", action="store_true", help="answer each /predict on its own")
    parser.add_argument("--debug", action="store_true", help="Flask development server with reloader off")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    load_dotenv(os.path.join(args.workspace, ENV_FILE), override=False)
    apply_offline_defaults()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    config = ServeConfig.from_env(
        workspace=args.workspace,
        refresh_seconds=args.refresh_seconds,
        micro_batching=False if args.no_micro_batching else None,
    )
    app = create_app(config)
    if args.debug:
        app.run(host=args.host, port=args.port, debug=True, use_reloader=False, threaded=True)
        return
    from waitress import serve

    logging.getLogger("app").info("Serving on http://%s:%d (threads=%d)", args.host, args.port, args.threads)
    # waitress refuses a body over the limit (by Content-Length, or once a chunked body passes it) before
    # reading it in full; Flask's own check would come only after waitress had buffered the whole body
    limit = config.max_body_bytes
    serve(app, host=args.host, port=args.port, threads=args.threads, ident="sentiment", max_request_body_size=limit)


if __name__ == "__main__":
    main()
