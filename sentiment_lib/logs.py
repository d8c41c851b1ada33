"""One logging set-up for ``runner.py`` and ``app.py``: plain text by default, or one JSON object per line.

JSON lines are for log shippers (Loki, Elasticsearch, CloudWatch): every record has ``time``, ``level``,
``logger`` and ``message``, plus the structured fields a caller passes as ``extra={"fields": {...}}`` (the
API's access log: request id, route, status, latency, model version).
"""

from __future__ import annotations

import json
import logging
import logging.handlers
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import argparse

FORMATS = ("text", "json")
# a log file that an unattended process writes for months stays within about 60 MB
ROTATE_BYTES = 10 * 1024 * 1024
ROTATE_BACKUPS = 5
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
OWN_HANDLERS = ("mlflow",)  # libraries that install their own handler when imported


class JsonFormatter(logging.Formatter):
    """A record as one line of JSON."""

    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        payload.update(getattr(record, "fields", {}))
        if record.exc_info:
            payload["error"] = self.formatException(record.exc_info)
        return json.dumps(payload, ensure_ascii=False, default=str)


def add_format_option(parser: argparse.ArgumentParser, default: str = "text") -> None:
    """``--log-format``, as ``runner.py`` and ``app.py`` both take it (``default``: what it is when not given)."""
    parser.add_argument(
        "--log-format", choices=FORMATS, default=default, help="text (default) or json: one object per line"
    )


def rotating_file(path: str | Path, max_bytes: int = ROTATE_BYTES, backups: int = ROTATE_BACKUPS) -> logging.Handler:
    """A handler appending to ``path`` that moves it to ``path.1`` (``.2``, ...) past ``max_bytes``, keeping
    ``backups`` old files: ``logs/runner.log`` under ``runner.py loop`` and ``logs/app.log`` grew forever."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    return logging.handlers.RotatingFileHandler(path, maxBytes=max_bytes, backupCount=backups, encoding="utf-8")


def configure(log_format: str = "text", level: int = logging.INFO, handlers: Sequence[logging.Handler] = ()) -> None:
    """Set up the root logger: ``handlers`` (default: stderr) in ``log_format``.

    Raises:
        ValueError: an unknown format (argparse's ``choices`` normally stops it first).
    """
    if log_format not in FORMATS:
        raise ValueError(f"log format must be one of {FORMATS}, got {log_format!r}")
    formatter = JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)
    handlers = list(handlers) or [logging.StreamHandler()]
    for handler in handlers:
        handler.setFormatter(formatter)
    logging.basicConfig(level=level, handlers=handlers, force=True)
    for name in OWN_HANDLERS:  # these libraries print through handlers of their own: route them through ours
        library = logging.getLogger(name)
        library.handlers.clear()
        library.propagate = True
