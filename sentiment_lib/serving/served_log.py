"""What the API served, one JSON line per text, for the staleness checks (input drift, estimated accuracy).

Files rotate daily and are per replica: ``<folder>/served-YYYYMMDD-<replica>.jsonl``, so API processes on
one host or on several (a shared folder) never append to the same file; readers merge every replica's
lines in time order. On the first write of a day, days older than the retention are deleted. Within a
process, writes are serialised by a lock, so lines from concurrent requests never interleave. A write
that fails (full disk, read-only folder) is logged and counted, never raised: the
log serves the monitoring, and a prediction must not fail because of it.

The disk it takes is bounded: each text is logged cut to ``max_text_chars`` (its full length kept beside
it), and each replica writes at most ``max_bytes_per_day`` a day. The last tenth of that budget is filled by a
sample (one text in ten) so the end of a busy day is still seen; past the budget texts are counted, not
written (``/health`` and ``/metrics`` report them).

The shadow log (:mod:`sentiment_lib.serving.shadow`: the ``@challenger``'s answer beside the champion's) is
written by the same class with another file prefix, ``<folder>/shadow-YYYYMMDD-<replica>.jsonl``, and read
with :func:`read_shadow`.
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
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sentiment_lib.settings.runtime import runtime

log = logging.getLogger(__name__)

SERVED_PREFIX, SHADOW_PREFIX = "served-", "shadow-"
_SUFFIX, _DAY = ".jsonl", "%Y%m%d"
_DAY_CHARS = 8
# the fields a line must have to be read back, by log
SERVED_FIELDS = ("text", "confidence", "model_version")
SHADOW_FIELDS = (
    "request_id",
    "text",
    "champion_version",
    "champion_sentiment",
    "champion_confidence",
    "challenger_version",
    "challenger_sentiment",
    "challenger_confidence",
)


def replica_id() -> str:
    """``SENTIMENT_REPLICA_ID`` if set, else ``<host>-<pid>``: unique among processes sharing the folder."""
    chosen = runtime().replica_id or f"{socket.gethostname()}-{os.getpid()}"
    return re.sub(r"[^A-Za-z0-9_.-]", "_", chosen)


def _day_of(path: Path, prefix: str = SERVED_PREFIX) -> datetime | None:
    """The day a log file covers, from its name (None for a file that is not one of ours).

    ``<prefix>YYYYMMDD-<replica>.jsonl``, or ``served-YYYYMMDD.jsonl`` as written before replicas.
    """
    stem = path.name[len(prefix) : -len(_SUFFIX)]
    if len(stem) > _DAY_CHARS and stem[_DAY_CHARS] != "-":
        return None
    try:
        return datetime.strptime(stem[:_DAY_CHARS], _DAY).replace(tzinfo=UTC)
    except ValueError:
        return None


def _log_files(folder: Path, prefix: str = SERVED_PREFIX) -> list[tuple[datetime, Path]]:
    days = ((_day_of(path, prefix), path) for path in folder.glob(f"{prefix}*{_SUFFIX}"))
    return sorted((day, path) for day, path in days if day is not None)


TEXT_ID_SEPARATOR = "#"  # never in a request id (api.REQUEST_ID): "<id>#<n>" cannot be another request's own id


def text_ids(request_id: str, count: int) -> list[str]:
    """The id of each text of one request: the request's own id for a single text, ``<id>#<n>`` (n from 0)
    for the texts of a batch, so that a label can name the one text it is for."""
    if count == 1:
        return [request_id]
    return [f"{request_id}{TEXT_ID_SEPARATOR}{n}" for n in range(count)]


SAMPLED_SHARE = 0.1  # the last tenth of a day's budget keeps one text in SAMPLE_EVERY
SAMPLE_EVERY = 10


@dataclass(frozen=True)
class LogOutcome:
    """What one ``record`` call did with its texts."""

    written: int = 0
    skipped: int = 0  # over the day's budget
    truncated: int = 0  # logged cut to max_text_chars
    failed: bool = False


class DayBudget:
    """The bytes one replica may still write today: in full up to 90% of the budget, then one line in ten,
    then none. 0 = no budget."""

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self.day, self.used, self.skipped, self._offered = "", 0, 0, 0

    def start_day(self, day: str, already_written: int) -> None:
        if day != self.day:
            self.day, self.used, self.skipped, self._offered = day, already_written, 0, 0

    def admit(self, size: int) -> bool:
        """Whether a line of ``size`` bytes is written (and counted against the budget) or skipped."""
        if self.max_bytes and self.used + size > self.max_bytes * (1 - SAMPLED_SHARE):
            self._offered += 1
            if self.used + size > self.max_bytes or self._offered % SAMPLE_EVERY:
                self.skipped += 1
                return False
        self.used += size
        return True


class ServedLog:
    """One replica's daily JSON-lines files in ``folder``: the served log, or (``prefix=SHADOW_PREFIX``) the
    shadow log."""

    def __init__(
        self,
        folder: str | Path,
        retention_days: int = 30,
        replica: str | None = None,
        max_bytes_per_day: int = 0,
        max_text_chars: int = 0,
        prefix: str = SERVED_PREFIX,
    ):
        self.folder = Path(folder)
        self.prefix = prefix
        self.what = f"{prefix.rstrip('-').capitalize()} log"  # "Served log", "Shadow log": what its messages say
        self.replica = replica or replica_id()
        self.retention = timedelta(days=retention_days)
        self.max_text_chars = max_text_chars  # 0: texts logged whole
        self.failures = 0  # writes that failed since the start, reported by /health
        self.last_failure = ""
        self.budget = DayBudget(max_bytes_per_day)
        self._lock = threading.Lock()
        self._pruned_for = ""  # the day retention was last applied

    def path_for(self, day: datetime) -> Path:
        return self.folder / f"{self.prefix}{day.strftime(_DAY)}-{self.replica}{_SUFFIX}"

    def record(
        self,
        texts: Sequence[str],
        labels: Sequence[str],
        confidences: Sequence[float],
        version: str,
        key_id: str | None = None,
        request_id: str | None = None,
    ) -> LogOutcome:
        """Append one line per text within today's budget; a failed write is logged and counted, not raised.

        Each line carries its text's id (:func:`text_ids`) when ``request_id`` is given.
        """
        now = datetime.now(UTC)
        stamp = now.isoformat(timespec="milliseconds")
        ids = text_ids(request_id, len(texts)) if request_id else [None] * len(texts)
        answers = zip(texts, labels, confidences, ids, strict=True)
        lines = [self._line(stamp, text, label, confidence, version, key_id, text_id)
                 for text, label, confidence, text_id in answers]  # fmt: skip
        return self._write(now, lines, self._truncated(texts))

    def append(self, records: Sequence[dict]) -> LogOutcome:
        """Append ``records`` (each with a ``time`` and a ``text``, cut as :meth:`record` cuts it) as lines within
        today's budget; a failed write is logged and counted, not raised. The shadow log is written so."""
        lines = [_json_line(self._cut(dict(record))) for record in records]
        return self._write(datetime.now(UTC), lines, self._truncated([r["text"] for r in records]))

    def _truncated(self, texts: Sequence[str]) -> int:
        return sum(map(self._too_long, texts))

    def _too_long(self, text: str) -> bool:
        """Whether ``text`` is logged cut (the one test :meth:`_cut` and the truncated count share)."""
        return bool(self.max_text_chars) and len(text) > self.max_text_chars

    def _cut(self, record: dict) -> dict:
        """``record`` with its text cut to ``max_text_chars``, the full length kept beside it."""
        text = record["text"]
        if self._too_long(text):
            record["text"], record["text_chars"] = text[: self.max_text_chars], len(text)
        return record

    def _write(self, now: datetime, lines: list[bytes], truncated: int) -> LogOutcome:
        with self._lock:
            try:
                self._prune(now)
                path = self.path_for(now)
                self.budget.start_day(now.strftime(_DAY), path.stat().st_size if path.exists() else 0)
                skipped_before = self.budget.skipped
                kept = [line for line in lines if self.budget.admit(len(line))]
                if kept:
                    self._append(path, b"".join(kept))
            except (OSError, UnicodeError) as err:
                self.failures += 1
                self.last_failure = f"{now.isoformat(timespec='seconds')}: {err}"
                log.error("%s write failed (%d so far; predictions go on): %s", self.what, self.failures, err)
                return LogOutcome(truncated=truncated, failed=True)
        skipped = self.budget.skipped - skipped_before
        if skipped and self.budget.skipped == skipped:  # the first texts skipped today: said once a day
            log.warning("%s: today's budget of %d bytes is spent; texts are counted, not logged, until "
                        "midnight UTC (served_log_max_mb_per_day)", self.what, self.budget.max_bytes)  # fmt: skip
        return LogOutcome(written=len(kept), skipped=skipped, truncated=truncated)

    def _line(
        self,
        stamp: str,
        text: str,
        label: str,
        confidence: float,
        version: str,
        key_id: str | None,
        text_id: str | None,
    ) -> bytes:
        record = {"time": stamp, "text": text, "sentiment": label, "confidence": round(float(confidence), 6)}
        record["model_version"] = version
        if text_id:
            record["request_id"] = text_id
        self._cut(record)
        if key_id:
            record["key_id"] = key_id
        return _json_line(record)

    def health(self) -> dict:
        """What /health says about the log: failed writes, and texts skipped today over the budget."""
        found: dict = {}
        if self.failures:
            found.update(served_log_failures=self.failures, served_log_last_failure=self.last_failure)
        if self.budget.skipped and self.budget.day == datetime.now(UTC).strftime(_DAY):
            found.update(served_log_skipped_today=self.budget.skipped, served_log_budget_bytes=self.budget.max_bytes)
        return found

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
        for day, path in _log_files(self.folder, self.prefix) if self.folder.is_dir() else []:
            if day < oldest:
                path.unlink(missing_ok=True)
                log.info("%s %s deleted: older than the %s retention", self.what, path.name, self.retention)
        self._pruned_for = today


def _json_line(record: dict) -> bytes:
    return (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")


def read_served(folder: str | Path, since: datetime | None = None) -> Iterator[dict]:
    """Every served record in ``folder``, every replica's, oldest first; optionally only from ``since`` on.

    Only the files of the days from ``since`` on are opened. A line that does not parse (one a crash cut
    short) is skipped and counted in a warning.
    """
    return _read(Path(folder), since, SERVED_PREFIX, SERVED_FIELDS)


def read_shadow(folder: str | Path, since: datetime | None = None) -> Iterator[dict]:
    """Every shadow record in ``folder`` (``Workspace.shadow_log``), every replica's, oldest first; optionally
    only from ``since`` on. Each has the fields of :data:`SHADOW_FIELDS` and a ``time``; damaged lines are
    skipped as :func:`read_served` skips them."""
    return _read(Path(folder), since, SHADOW_PREFIX, SHADOW_FIELDS)


def _read(folder: Path, since: datetime | None, prefix: str, fields: tuple[str, ...]) -> Iterator[dict]:
    first_day = since.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0) if since else None
    files = [path for day, path in _log_files(folder, prefix) if first_day is None or day >= first_day]
    damaged = [0]
    # each file is in time order (one writer, appending); merging them gives the replicas' lines in time order
    merged = heapq.merge(*(_records(path, damaged, fields) for path in files), key=lambda r: r["_at"])
    for record in merged:
        if since is None or record["_at"] >= since:
            del record["_at"]
            yield record
    if damaged[0]:
        what = f"{prefix.rstrip('-')} log"
        log.warning("Skipped %d damaged line(s) of the %s in %s (cut short by a crash)", damaged[0], what, folder)


def latest_served(
    folder: str | Path, limit: int, since: datetime | None = None, keep: Callable[[dict], bool] = lambda r: True
) -> list[dict]:
    """The last ``limit`` records that ``keep`` accepts (from the days since ``since``, when given), oldest first;
    only that many are held in memory however long the log is."""
    window: deque[dict] = deque(maxlen=limit)
    window.extend(r for r in read_served(folder, since=since) if keep(r))
    return list(window)


def latest_served_by(folder: str | Path, version: str, since: datetime, limit: int) -> list[dict]:
    """The last ``limit`` records ``version`` answered, from the days since ``since``."""
    return latest_served(folder, limit, since, keep=lambda r: r["model_version"] == version)


def _records(path: Path, damaged: list[int], fields: tuple[str, ...]) -> Iterator[dict]:
    with path.open(encoding="utf-8", errors="replace") as handle:
        for line in handle:
            record = _parse(line, fields)
            if record is None:
                damaged[0] += 1
            else:
                at = datetime.fromisoformat(record["time"])
                record["_at"] = at if at.tzinfo else at.replace(tzinfo=UTC)
                yield record


def _parse(line: str, fields: tuple[str, ...]) -> dict | None:
    if not line.endswith("\n"):
        return None  # the last line of a file whose write was cut short
    try:
        record = json.loads(line)
        datetime.fromisoformat(record["time"])
    except (json.JSONDecodeError, TypeError, KeyError, ValueError):
        return None
    return record if isinstance(record, dict) and all(k in record for k in fields) else None
