"""The verdict's vocabulary: its statuses, its checks, and the interval an accuracy is judged with.

Apart from :mod:`sentiment_lib.monitoring.checks.staleness` (which needs scikit-learn) so that the API can read
verdicts and write model cards without loading it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

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
    """The Wilson score interval of a proportion (well-behaved for small n and extreme proportions)."""
    if n == 0:
        return 0.0, 1.0
    from scipy.stats import binomtest  # here: scipy.stats costs the API's processes about 45 MB each

    interval = binomtest(successes, n).proportion_ci(confidence_level=confidence, method="wilson")
    return float(interval.low), float(interval.high)
