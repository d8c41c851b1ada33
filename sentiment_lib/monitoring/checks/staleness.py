"""Is the champion still fit? Performance on labelled feedback, age, input drift, and label-free estimates.

Every check returns a :class:`Check` with its number, its threshold and whether it fired, so the verdict
can say exactly why. Each test is built so that a small or noisy window does not raise a false alarm:
performance uses a confidence interval, drift a permutation test (:mod:`~sentiment_lib.monitoring.checks.drift`).
Whenever drift is tested, a :class:`~sentiment_lib.monitoring.checks.drift_explanation.DriftExplanation` says what
separates the two samples.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sentiment_lib.data.schema import LABEL_COLUMN, TEXT_COLUMN
from sentiment_lib.io import CSV_READ_ERRORS, csv_error, write_csv_atomic, write_json_atomic
from sentiment_lib.monitoring.checks import acknowledgements, drift
from sentiment_lib.monitoring.checks.acknowledgements import Acknowledgement
from sentiment_lib.monitoring.checks.drift_explanation import DriftExplanation
from sentiment_lib.monitoring.checks.verdicts import DEGRADED, HEALTHY, STALE, Check, Verdict, wilson_interval

# re-exported: the loop and tests read them here
__all__ = ["DEGRADED", "HEALTHY", "STALE", "Check", "Verdict", "wilson_interval"]


def performance_check(correct: np.ndarray, baseline: float, tolerance: float, min_rows: int) -> Check:
    """Fires when even the upper end of the 95% interval of window accuracy is below baseline - tolerance.

    With fewer than ``min_rows`` labelled rows it never fires: too little evidence either way.
    """
    n, hits = len(correct), int(np.sum(correct))
    accuracy = hits / n if n else float("nan")
    floor = baseline - tolerance
    low, high = wilson_interval(hits, n)
    fired = n >= min_rows and high < floor
    detail = (
        f"accuracy {accuracy:.3f} on {n} recent labelled reviews, not chosen for being hard (95% CI "
        f"{low:.3f}-{high:.3f}) "
        f"against the floor {floor:.3f} (baseline {baseline:.3f} - tolerance {tolerance:.3f})"
    )
    if n < min_rows:
        detail += f"; not judged below {min_rows} rows"
    return Check("performance", accuracy, floor, fired, detail, (low, high))


def age_check(trained_at: datetime, now: datetime, max_age: timedelta) -> Check:
    """Fires when the champion is older than ``max_age``. A champion trained after ``now`` (on a replay's
    simulated clock that ran ahead of this one) counts as new, and the detail says why."""
    age = max(now - trained_at, timedelta(0))
    days = age.total_seconds() / 86400
    limit = max_age.total_seconds() / 86400
    detail = f"champion is {days:.1f} days old (maximum {limit:.1f})"
    if trained_at > now:
        detail += (
            f"; trained at {trained_at.isoformat(timespec='seconds')}, later than now: a simulated clock ran ahead"
        )
    return Check("age", days, limit, age > max_age, detail)


def estimate_interval(confidences: np.ndarray, z: float = 1.96) -> tuple[float, float]:
    """Where the realised accuracy of these predictions should fall (95%) if their confidences are calibrated.

    Each prediction is then right with probability its confidence, so the count of right answers is a sum
    of independent Bernoulli trials (a Poisson binomial) with variance sum(c * (1 - c)).
    """
    n = len(confidences)
    if n == 0:
        return 0.0, 1.0
    estimate = float(np.mean(confidences))
    spread = z * float(np.sqrt(np.sum(confidences * (1 - confidences)))) / n
    return max(0.0, estimate - spread), min(1.0, estimate + spread)


def estimated_accuracy_check(confidences: np.ndarray, baseline: float, tolerance: float, min_rows: int = 0) -> Check:
    """Confidence-based performance estimation (CBPE): with calibrated confidences (temperature scaling at
    training), their mean estimates the accuracy on traffic whose labels have not come in yet. Fires, like
    the performance check, only when even the interval's upper end is below the floor; fewer than
    ``min_rows`` predictions are not judged."""
    confidences = np.asarray(confidences, dtype=float)
    n = len(confidences)
    estimate = float(np.mean(confidences)) if n else float("nan")
    low, high = estimate_interval(confidences)
    floor = baseline - tolerance
    fired = n >= max(min_rows, 1) and high < floor
    detail = (
        f"estimated accuracy {estimate:.3f} (95% interval {low:.3f}-{high:.3f}) from the confidences of {n} "
        f"unlabelled predictions (floor {floor:.3f})"
    )
    if n < min_rows:
        detail += f"; not judged below {min_rows} predictions"
    return Check("estimated_performance", estimate, floor, fired, detail, (low, high))


def decide(checks: list[Check]) -> Verdict:
    """degraded if the labelled performance check fired; stale if any other check did; else healthy."""
    fired = {c.name for c in checks if c.fired}
    if "performance" in fired:
        return Verdict(DEGRADED, checks)
    return Verdict(STALE if fired else HEALTHY, checks)


@dataclass
class Assessment:
    """Everything the staleness report shows: the verdict and the data behind each check."""

    verdict: Verdict
    model_version: str
    baseline: float
    window: int
    served: int
    history_row: dict
    drift_explanation: DriftExplanation | None = None  # None when drift was not tested (too few texts)
    drift_reference: str = "the training data"  # or the served texts of a rebaseline
    acknowledged: dict | None = None  # the acknowledgement that kept drift from firing, if one did


def assess(
    predictor,
    model_version: str,
    baseline: float,
    trained_at: datetime,
    now: datetime,
    feedback: pd.DataFrame,
    served_texts: list[str],
    served_confidences: np.ndarray,
    reference_texts: list[str],
    settings,
    reference_name: str = "the training data",
    acknowledged: Acknowledgement | None = None,
) -> Assessment:
    """Run every check that has data; a check without data is left out of the verdict and said so.

    When drift is tested, its explanation is computed too, fired or not, so an operator can always look.
    Drift that ``acknowledged`` still covers (see :mod:`~sentiment_lib.monitoring.checks.acknowledgements`) is
    reported but does not fire.
    """
    checks = [age_check(trained_at, now, timedelta(days=settings.max_age_days))]
    explanation, covered = None, False
    window = feedback.tail(settings.staleness_window)
    if len(window):
        predicted = predictor.predict(window[TEXT_COLUMN].tolist()).labels
        correct = np.array(predicted) == window[LABEL_COLUMN].to_numpy()
        checks.append(performance_check(correct, baseline, settings.accuracy_tolerance, settings.min_feedback_rows))
    recent = (window[TEXT_COLUMN].tolist() + served_texts)[-settings.drift_sample :]
    if len(recent) >= 20 and len(reference_texts) >= 20:
        shift, explanation = drift.explained_drift_check(predictor, reference_texts, recent, settings)
        ngrams = [n.ngram for n in explanation.typical_of_recent]
        covered = acknowledged is not None and shift.fired and acknowledged.covers(model_version, shift.value, ngrams)
        checks.append(acknowledgements.unfire(shift, acknowledged) if covered and acknowledged else shift)
    if len(served_confidences):
        # the latest window of predictions, as for labelled feedback: the estimate follows the traffic
        latest = np.asarray(served_confidences)[-settings.staleness_window :]
        checks.append(
            estimated_accuracy_check(latest, baseline, settings.accuracy_tolerance, settings.min_feedback_rows)
        )
    verdict = decide(checks)
    row: dict[str, Any] = {
        "time": now.isoformat(timespec="seconds"),
        "model_version": model_version,
        "status": verdict.status,
    }
    row.update({c.name: round(c.value, 4) for c in checks})
    row.update({f"{c.name}_threshold": round(c.threshold, 4) for c in checks})
    for check in checks:
        row.update({name: round(value, 4) for name, value in check.interval_numbers().items()})
    ack = asdict(acknowledged) if covered and acknowledged else None
    return Assessment(
        verdict, model_version, baseline, len(window), len(served_texts), row, explanation, reference_name, ack
    )


def write_verdict(assessment: Assessment, path: str | Path) -> Path:
    """The verdict as JSON, for the runner: status, every check with its numbers, and the reasons.

    ``drift_explanation`` is :meth:`DriftExplanation.to_dict`, or None when drift was not tested.
    """
    explanation = assessment.drift_explanation
    payload = {
        "status": assessment.verdict.status,
        "model_version": assessment.model_version,
        "reasons": assessment.verdict.reasons,
        "checks": [asdict(c) for c in assessment.verdict.checks],
        "drift_explanation": None if explanation is None else explanation.to_dict(),
        "drift_reference": assessment.drift_reference,
        "acknowledged": assessment.acknowledged,
    }
    return write_json_atomic(path, payload)


def append_history(row: dict, path: str | Path) -> pd.DataFrame:
    """Add one assessment to the history CSV and return the whole history."""
    path = Path(path)
    try:
        history = pd.read_csv(path) if path.is_file() else pd.DataFrame()
    except CSV_READ_ERRORS as err:
        raise csv_error(path, err) from None
    history = pd.concat([history, pd.DataFrame([row])], ignore_index=True)
    write_csv_atomic(history, path)
    return history
