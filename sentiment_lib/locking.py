"""One lock per workspace: the commands that write it (ingest, the notebook steps, report, each loop cycle)
run one at a time, so a manual ``train`` cannot move ``@challenger`` under a running gate.

The lock is an ``flock`` on ``state/cycle.lock``: the operating system releases it when its holder dies,
so a killed command never leaves the workspace locked. The holder writes who it is into the file, for
the message the next command shows.
"""

from __future__ import annotations

import fcntl
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import IO

from sentiment_lib.errors import SentimentError
from sentiment_lib.workspace import Workspace

log = logging.getLogger(__name__)


class WorkspaceBusyError(SentimentError):
    """Another command holds the workspace's lock."""


def _holder(handle: IO[str]) -> str:
    handle.seek(0)
    return handle.read().strip() or "another command"


def _claim(handle: IO[str], command: str) -> None:
    handle.seek(0)
    handle.truncate()
    since = datetime.now(UTC).isoformat(timespec="seconds")
    handle.write(f"`{command}` (pid {os.getpid()}, since {since})")
    handle.flush()


@contextmanager
def workspace_lock(workspace: Workspace, command: str, wait: bool = False) -> Iterator[None]:
    """Hold the workspace's lock while ``command`` runs; with ``wait``, queue behind the holder.

    Raises:
        WorkspaceBusyError: the lock is held and ``wait`` is false.
    """
    workspace.state.mkdir(parents=True, exist_ok=True)
    # "a+": opening must not truncate what the current holder wrote about itself
    with open(workspace.cycle_lock, "a+", encoding="utf-8") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(handle)
            if not wait:
                raise WorkspaceBusyError(
                    f"the workspace {workspace.root} is busy: {holder} holds its lock, so `{command}` did not run "
                    "(pass --wait to queue behind it)"
                ) from None
            log.info("Waiting for the workspace lock held by %s", holder)
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            _claim(handle, command)
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
