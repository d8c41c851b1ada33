"""What the API served, one JSON line per text, for the staleness checks (input drift, estimated accuracy).

Files rotate daily and are per replica: ``<folder>/served-YYYYMMDD-<replica>.jsonl``, so API processes on
one host or on several (a shared folder) never append to the same file; readers merge every replica's
lines in time order. On the first write of a day, days older than the retention are deleted. Within a
process, writes are serialised by a lock, so lines from concurrent requests never interleave. A write
that fails (full disk, read-only folder) is logged and counted, never raised: the
log serves the monitoring, and a prediction must not fail because of it.
"""

from __future__ import annotations

import heapq
import json
import logging
import os
import re
import socket
import threading
from collections import deque
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

log = logging.getLogger(__name__)

_PREFIX, _SUFFIX, _DAY = "served-", ".jsonl", "%Y%m%d"
_DAY_CHARS = 8
REPLICA_ENV = "SENTIMENT_REPLICA_ID"


def replica_id() -> str:
    """``SENTIMENT_REPLICA_ID`` if set, else ``<host>-<pid>``: unique among processes sharing the folder."""
    chosen = os.environ.get(REPLICA_ENV) or f"{socket.gethostname()}-{os.getpid()}"
    return re.sub(r"[^A-Za-z0-9_.-]", "_", chosen)


def _day_of(path: Path) -> datetime | None:
    """The day a log file covers, from its name (None for a file that is not one of ours).

    ``served-YYYYMMDD-<replica>.jsonl``, or ``served-YYYYMMDD.jsonl`` as written before replicas.
    """
    stem = path.name[len(_PREFIX) : -len(_SUFFIX)]
    if len(stem) > _DAY_CHARS and stem[_DAY_CHARS] != "-":
        return None
    try:
        return datetime.strptime(stem[:_DAY_CHARS], _DAY).replace(tzinfo=UTC)
    except ValueError:
        return None


def _log_files(folder: Path) -> list[tuple[datetime, Path]]:
    days = ((_day_of(path), path) for path in folder.glob(f"{_PREFIX}*{_SUFFIX}"))
    return sorted((day, path) for day, path in days if day is not None)


class ServedLog:
    def __init__(self, folder: str | Path, retention_days: int = 30, replica: str | None = None):
        self.folder = Path(folder)
        self.replica = replica or replica_id()
        self.retention = timedelta(days=retention_days)
        self.failures = 0  # writes that failed since the start, reported by /health
        self.last_failure = ""
        self._lock = threading.Lock()
        self._pruned_for = ""  # the day retention was last applied

    def path_for(self, day: datetime) -> Path:
        return self.folder / f"{_PREFIX}{day.strftime(_DAY)}-{self.replica}{_SUFFIX}"

    def record(self, texts: Sequence[str], labels: Sequence[str], confidences: Sequence[float], version: str) -> bool:
        """Append one line per text; return False (logged and counted) when the write failed."""
        now = datetime.now(UTC)
        stamp = now.isoformat(timespec="milliseconds")
        lines = "".join(
            json.dumps(
                {"time": stamp, "text": t, "sentiment": s, "confidence": round(float(c), 6), "model_version": version},
                ensure_ascii=False,
            )
            + "\n"
            for t, s, c in zip(texts, labels, confidences, strict=True)
        )
        with self._lock:
            try:
                self._prune(now)
                self._append(self.path_for(now), lines.encode("utf-8"))
            except (OSError, UnicodeError) as err:
                self.failures += 1
                self.last_failure = f"{now.isoformat(timespec='seconds')}: {err}"
                log.error("Served log write failed (%d so far; predictions go on): %s", self.failures, err)
                return False
        return True

    def _append(self, path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a+b") as handle:
            size = handle.seek(0, os.SEEK_END)
            if size and os.pread(handle.fileno(), 1, size - 1) != b"\n":
                data = b"\n" + data  # end the line a crash cut short; readers skip it, the new ones stay whole
            handle.write(data)

    def _prune(self, now: datetime) -> None:
        today = now.strftime(_DAY)
        if self._pruned_for == today:
            return
        oldest = (now - self.retention).replace(hour=0, minute=0, second=0, microsecond=0)
        for day, path in _log_files(self.folder) if self.folder.is_dir() else []:
            if day < oldest:
                path.unlink(missing_ok=True)
                log.info("Served log %s deleted: older than the %s retention", path.name, self.retention)
        self._pruned_for = today


def read_served(folder: str | Path, since: datetime | None = None) -> Iterator[dict]:
    """Every served record in ``folder``, every replica's, oldest first; optionally only from ``since`` on.

    Only the files of the days from ``since`` on are opened. A line that does not parse (one a crash cut
    short) is skipped and counted in a warning.
    """
    first_day = since.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0) if since else None
    files = [path for day, path in _log_files(Path(folder)) if first_day is None or day >= first_day]
    damaged = [0]
    # each file is in time order (one writer, appending); merging them gives the replicas' lines in time order
    merged = heapq.merge(*(_records(path, damaged) for path in files), key=lambda r: r["_at"])
    for record in merged:
        if since is None or record["_at"] >= since:
            del record["_at"]
            yield record
    if damaged[0]:
        log.warning("Skipped %d damaged line(s) of the served log in %s (cut short by a crash)", damaged[0], folder)


def latest_served_by(folder: str | Path, version: str, since: datetime, limit: int) -> list[dict]:
    """The last ``limit`` records ``version`` answered, from the days since ``since``; only that many are kept
    in memory however long the log is."""
    window: deque[dict] = deque(maxlen=limit)
    window.extend(r for r in read_served(folder, since=since) if r["model_version"] == version)
    return list(window)


def _records(path: Path, damaged: list[int]) -> Iterator[dict]:
    with path.open(encoding="utf-8", errors="replace") as handle:
        for line in handle:
            record = _parse(line)
            if record is None:
                damaged[0] += 1
            else:
                at = datetime.fromisoformat(record["time"])
                record["_at"] = at if at.tzinfo else at.replace(tzinfo=UTC)
                yield record


def _parse(line: str) -> dict | None:
    if not line.endswith("\n"):
        return None  # the last line of a file whose write was cut short
    try:
        record = json.loads(line)
        datetime.fromisoformat(record["time"])
    except (json.JSONDecodeError, TypeError, KeyError, ValueError):
        return None
    fields = ("text", "confidence", "model_version")
    return record if isinstance(record, dict) and all(k in record for k in fields) else None
