"""API keys for the prediction endpoints, kept hashed in a file the operator names.

One key per line: ``<key id> sha256:<hex digest of the key>``; ``#`` starts a comment. The server never
holds a key itself, only its digest, and reports the key id (served log, metrics), never the key. Keys are
random 32-byte tokens, so a plain SHA-256 is enough: there is nothing to guess that a slow hash would
protect. The file is read again when it changes, so keys are added or revoked without a restart.

    .venv/bin/python runner.py api-key add <key id> --file <path>    # prints the new key once
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
import secrets
import threading
from pathlib import Path

from sentiment_lib.errors import ConfigError

log = logging.getLogger(__name__)

KEY_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
_LINE = re.compile(r"(?P<id>\S+)\s+sha256:(?P<digest>[0-9a-f]{64})")


def digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def parse_keys(text: str, source: str) -> dict[str, str]:
    """``{digest: key id}`` from the file's text.

    Raises:
        ConfigError: a line that is not ``<key id> sha256:<64 hex digits>``, or a key id used twice.
    """
    keys: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        match = _LINE.fullmatch(line)
        if match is None or not KEY_ID.fullmatch(match["id"]):
            raise ConfigError(f"{source} line {number}: expected '<key id> sha256:<64 hex digits>'")
        if match["id"] in keys.values():
            raise ConfigError(f"{source} line {number}: key id {match['id']!r} appears twice")
        keys[match["digest"]] = match["id"]
    return keys


def add_key(path: str | Path, key_id: str) -> str:
    """Make a new key for ``key_id``, append its digest to ``path`` (created owner-only) and return the key.

    Raises:
        ConfigError: a bad key id, one already in the file, or a damaged file.
    """
    if not KEY_ID.fullmatch(key_id):
        raise ConfigError(f"key id must be 1-64 letters, digits, '.', '_' or '-', got {key_id!r}")
    path = Path(path)
    existing = path.read_text(encoding="utf-8") if path.exists() else ""
    if key_id in parse_keys(existing, str(path)).values():
        raise ConfigError(f"{path} already has a key {key_id!r}; remove its line to revoke it first")
    key = secrets.token_urlsafe(32)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    with os.fdopen(descriptor, "a", encoding="utf-8") as handle:
        handle.write(("" if not existing or existing.endswith("\n") else "\n") + f"{key_id} sha256:{digest(key)}\n")
    return key


class ApiKeys:
    """The keys of one file, read again whenever its modification time or size changes."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._lock = threading.Lock()
        self._seen: tuple[int, int] | None = None
        self._keys: dict[str, str] = {}
        self._reload(first=True)

    def identify(self, presented: str) -> str | None:
        """The key id of ``presented``, or None for a missing or unknown key."""
        if not presented:
            return None
        self._reload()
        wanted = digest(presented)
        found = None
        for known, key_id in self._keys.items():  # every entry compared: the time does not tell which matched
            if hmac.compare_digest(known, wanted):
                found = key_id
        return found

    def _reload(self, first: bool = False) -> None:
        try:
            stat = self.path.stat()
        except OSError as err:
            if first:
                raise ConfigError(f"API keys file {self.path} cannot be read: {err}") from None
            return  # gone or unreadable: keep the keys already known, said once per change below
        seen = (stat.st_mtime_ns, stat.st_size)
        with self._lock:
            if seen == self._seen:
                return
            try:
                self._keys = parse_keys(self.path.read_text(encoding="utf-8"), str(self.path))
            except (OSError, UnicodeError, ConfigError) as err:
                if first:
                    raise ConfigError(f"API keys file {self.path}: {err}") from None
                log.error("API keys file changed but cannot be used (the previous keys stay): %s", err)
            self._seen = seen
            log.info("API keys: %d key(s) from %s", len(self._keys), self.path)
