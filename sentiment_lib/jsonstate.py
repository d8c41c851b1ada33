"""Small JSON files that must survive a crash: the loop's state, alert cooldowns, the replay position."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def read_json(path: str | Path, default: Any) -> Any:
    """The file's content, or ``default`` when it does not exist yet."""
    path = Path(path)
    return json.loads(path.read_text()) if path.is_file() else default


def write_json_atomic(path: str | Path, data: Any) -> None:
    """Write through a temporary file and a rename, so a crash never leaves half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2))
    tmp.replace(path)
