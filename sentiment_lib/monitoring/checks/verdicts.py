"""The verdict's vocabulary: its statuses, its checks, and the interval an accuracy is judged with.

Apart from :mod:`sentiment_lib.monitoring.checks.staleness` (which needs scikit-learn) so that the API can read
verdicts and write model cards without loading it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from statistics import NormalDist

HEALTHY, STALE, DEGRADED = "healthy", "stale", "degraded"
STATUSES = (HEALTHY, STALE, DEGRADED)


@dataclass(frozen=True)
class Check:
    name: str
    value: float
    threshold: float
    fired: bool
    detail: str
    interval: tuple[float, float] | None = None  # 95% interval of ``value``, for the checks that have one

    def interval_numbers(self) -> dict[str, float]:
        """``{"<name>_low": ..., "<name>_high": ...}``, empty for a check without an interval."""
        if self.interval is None:
            return {}
        low, high = self.interval
        return {f"{self.name}_low": low, f"{self.name}_high": high}


@dataclass
class Verdict:
    status: str
    checks: list[Check] = field(default_factory=list)

    @property
    def reasons(self) -> list[str]:
        return [c.detail for c in self.checks if c.fired]


def check_of(verdict: dict | None, name: str) -> dict:
    """The check called ``name`` in a verdict read from ``verdict.json``; empty when it did not run."""
    return next((c for c in (verdict or {}).get("checks", []) if c.get("name") == name), {})


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """The Wilson score interval of a proportion (well-behaved for small n and extreme proportions).

    In closed form with the standard library: scipy.stats would cost each API process about 45 MB.
    """
    if n == 0:
        return 0.0, 1.0
    z = NormalDist().inv_cdf(1 - (1 - confidence) / 2)
    share, spread = successes / n, z * z / n
    centre = (share + spread / 2) / (1 + spread)
    half = z * math.sqrt(share * (1 - share) / n + spread / (4 * n)) / (1 + spread)
    return max(0.0, centre - half), min(1.0, centre + half)
