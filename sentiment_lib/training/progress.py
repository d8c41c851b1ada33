"""Training progress a person can follow: steps done, time spent and time left, on the runner's console.

The lines go through :mod:`sentiment_lib.progress` (the kernel's stderr, relayed by papermill to the log).
"""

from __future__ import annotations

import time

from transformers import TrainerCallback

from sentiment_lib.progress import duration, report

EVERY_SECONDS = 30.0  # at most one line per this many seconds, plus the first and the last step


def progress_line(name: str, step: int, total: int, elapsed: float) -> str:
    """``step`` of ``total`` done after ``elapsed`` seconds, with the time left at the same pace."""
    share = step / total if total else 0.0
    left = elapsed * (1 - share) / share if share else 0.0
    return f"{name}: step {step}/{total} ({share:.0%}), {duration(elapsed)} elapsed, about {duration(left)} left"


class ProgressCallback(TrainerCallback):
    """Reports progress at the start, the first step, then every ``every_seconds``, and the last step."""

    def __init__(self, every_seconds: float = EVERY_SECONDS, name: str = "training"):
        self.every_seconds, self.name = every_seconds, name
        self.started = self.last = 0.0

    def on_train_begin(self, args, state, control, **kwargs):
        self.started = self.last = time.monotonic()
        report(f"{self.name}: {state.max_steps} steps to go")

    def on_step_end(self, args, state, control, **kwargs):
        now = time.monotonic()
        if state.global_step in (1, state.max_steps) or now - self.last >= self.every_seconds:
            self.last = now
            report(progress_line(self.name, state.global_step, state.max_steps, now - self.started))
