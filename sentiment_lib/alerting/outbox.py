"""The outbox: alerts that could not be sent (or that no transport was configured for), one file each."""

from __future__ import annotations

import re
from pathlib import Path

from sentiment_lib.clock import wall_now
from sentiment_lib.io import write_bytes_atomic


def keep(outbox: Path, data: bytes, kind: str, suffix: str) -> Path:
    """Keep ``data`` in ``outbox`` under a name that sorts in the order alerts were written.

    Named by the wall clock, not the alert's ``now``: a cycle dates all its alerts with one (possibly simulated)
    moment, and two alerts of one kind must never share a file name.
    """
    safe_kind = re.sub(r"[^A-Za-z0-9_.-]+", "_", kind)  # part of a file name
    stamp = wall_now().strftime("%Y%m%dT%H%M%S%f")
    path, number = outbox / f"{stamp}-{safe_kind}{suffix}", 1
    while path.exists():
        path, number = outbox / f"{stamp}-{safe_kind}-{number}{suffix}", number + 1
    return write_bytes_atomic(path, data)
