"""Progress lines that travel from a papermill kernel to the console of ``runner.py``.

A step runs in a kernel, whose output ends up in the executed notebook, not on the console. Code in the
kernel writes tagged lines to its stderr (:func:`report`; the training's callback does, see
``sentiment_lib/training/progress.py``) and :class:`ProgressRelay`, given to papermill as its
``stderr_file``, passes the tagged lines, and nothing else, to the runner's log: the console and
``logs/runner.log``. Light on purpose: ``runner.py`` imports it for every command.
"""

from __future__ import annotations

import logging
import sys

TAG = "[progress] "
log = logging.getLogger("runner.progress")


def report(line: str) -> None:
    """Send ``line`` to the runner's console (from code running in a notebook kernel)."""
    print(TAG + line, file=sys.stderr, flush=True)


def duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"


class ProgressRelay:
    """A file-like sink for a kernel's stderr that logs the tagged progress lines and drops the rest
    (the rest is in the executed notebook already)."""

    def __init__(self, logger: logging.Logger = log):
        self.logger, self._pending = logger, ""

    def write(self, text: str) -> int:
        self._pending += text
        *lines, self._pending = self._pending.split("\n")
        for line in lines:
            if line.startswith(TAG):
                self.logger.info("%s", line[len(TAG) :])
        return len(text)

    def flush(self) -> None:
        pass
