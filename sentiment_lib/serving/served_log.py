"""What the API served, one JSON line per text, for the staleness checks (input drift, estimated accuracy).

Files rotate daily: ``<folder>/served-YYYYMMDD.jsonl``. Writes are serialised by a lock, so lines from
concurrent requests never interleave.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path


class ServedLog:
    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self._lock = threading.Lock()

    def path_for(self, day: datetime) -> Path:
        return self.folder / f"served-{day.strftime('%Y%m%d')}.jsonl"

    def record(self, texts: Sequence[str], labels: Sequence[str], confidences: Sequence[float], version: str) -> None:
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
            self.folder.mkdir(parents=True, exist_ok=True)
            with self.path_for(now).open("a", encoding="utf-8") as handle:
                handle.write(lines)


def read_served(folder: str | Path, since: datetime | None = None) -> Iterator[dict]:
    """Every served record in ``folder``, oldest file first, optionally only from ``since`` on."""
    for path in sorted(Path(folder).glob("served-*.jsonl")):
        with path.open(encoding="utf-8") as handle:
            for line in handle:
                record = json.loads(line)
                if since is None or datetime.fromisoformat(record["time"]) >= since:
                    yield record
