"""Is the champion still fit? Performance on labelled feedback, age, input drift, and label-free estimates.

Every check returns a :class:`Check` with its number, its threshold and whether it fired, so the verdict
can say exactly why. Each test is built so that a small or noisy window does not raise a false alarm:
performance uses a confidence interval, drift a permutation test. Whenever drift is tested, a
:class:`~sentiment_lib.monitoring.drift_explanation.DriftExplanation` says what separates the two samples.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import FeatureUnion

from sentiment_lib.data.schema import LABEL_COLUMN, TEXT_COLUMN
from sentiment_lib.io import CSV_READ_ERRORS, csv_error, write_csv_atomic, write_json_atomic
from sentiment_lib.monitoring import acknowledgements, drift_explanation
from sentiment_lib.monitoring.acknowledgements import Acknowledgement
from sentiment_lib.monitoring.drift_explanation import DriftExplanation
from sentiment_lib.monitoring.verdicts import DEGRADED, HEALTHY, STALE, wilson_interval

__all__ = ["DEGRADED", "HEALTHY", "STALE", "wilson_interval"]  # re-exported: the loop and tests read them here


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
        f"accuracy {accuracy:.3f} on {n} recent labelled reviews (95% CI {low:.3f}-{high:.3f}) "
        f"against the floor {floor:.3f} (baseline {baseline:.3f} - tolerance {tolerance:.3f})"
    )
    if n < min_rows:
        detail += f"; not judged below {min_rows} rows"
    return Check("performance", accuracy, floor, fired, detail, (low, high))


def age_check(trained_at: datetime, now: datetime, max_age: timedelta) -> Check:
    age = now - trained_at
    days = age.total_seconds() / 86400
    limit = max_age.total_seconds() / 86400
    return Check("age", days, limit, age > max_age, f"champion is {days:.1f} days old (maximum {limit:.1f})")


WORDS = "words"  # the word block of the domain classifier's features, the one the explanation names
# words of two or more characters, @mentions and #hashtags kept whole ("@united", not "united")
WORD_TOKENS = r"(?u)(?<![\w@#])[@#]?\w\w+(?:'\w+)?"


def domain_features(texts: list[str]) -> tuple[Any, np.ndarray]:
    """The domain classifier's TF-IDF features of ``texts`` and the name of each column.

    Character n-grams (within words) catch changes of spelling, punctuation and emoji that words miss; word
    1-2-grams beside them are what an explanation can show a person (``words__flight``, ``words__@united``).
    The vectorizers never see which text is recent, so one matrix serves the observed and every permuted run.
    """
    union = FeatureUnion(
        [
            ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), min_df=2, sublinear_tf=True)),
            (WORDS, TfidfVectorizer(ngram_range=(1, 2), token_pattern=WORD_TOKENS, min_df=2, sublinear_tf=True)),
        ]
    )
    features = union.fit_transform(texts)
    return features, union.get_feature_names_out()


def _domain_classifier() -> LogisticRegression:
    # liblinear, not the default lbfgs: every permutation refits this model five times, and on a few hundred rows
    # of ~10,000 sparse features liblinear is ~3x faster (lbfgs's cost grows with the number of features and its
    # BLAS threads spin on a busy machine); the AUCs agree to the third decimal
    return LogisticRegression(max_iter=1000, C=1.0, solver="liblinear")


def _domain_auc(features: Any, is_recent: np.ndarray, seed: int) -> float:
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=seed)
    scores = cross_val_predict(_domain_classifier(), features, is_recent, cv=folds, method="predict_proba")[:, 1]
    return float(roc_auc_score(is_recent, scores))


def _is_recent(reference: list[str], recent: list[str]) -> np.ndarray:
    return np.r_[np.zeros(len(reference), dtype=int), np.ones(len(recent), dtype=int)]


def drift_check(
    reference: list[str],
    recent: list[str],
    permutations: int = 20,
    alpha: float = 0.05,
    seed: int = 0,
    features: Any = None,
) -> Check:
    """Domain-classifier test: can a classifier tell recent inputs from training inputs?

    Its cross-validated AUC is compared with the AUCs of the same classifier on randomly relabelled
    data (a permutation test); drift fires when the observed AUC beats all but ``alpha`` of them.
    ``features`` are :func:`domain_features` of ``reference + recent``, built here when not given.
    """
    rng = np.random.default_rng(seed)
    labels = _is_recent(reference, recent)
    if features is None:
        features, _ = domain_features(list(reference) + list(recent))
    observed = _domain_auc(features, labels, seed)
    null = [_domain_auc(features, rng.permutation(labels), seed) for _ in range(permutations)]
    p_value = (1 + sum(a >= observed for a in null)) / (1 + permutations)
    threshold = float(np.quantile(null, 1 - alpha))
    fired = p_value <= alpha
    detail = (
        f"domain classifier AUC {observed:.3f} (permutation {100 * (1 - alpha):g}th percentile {threshold:.3f}, "
        f"p = {p_value:.3f}, {len(recent)} recent vs {len(reference)} training texts)"
    )
    return Check("drift", observed, threshold, fired, detail)


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


def explain_drift(
    reference: list[str],
    recent: list[str],
    predicted: tuple[list[str], list[str]] | None = None,
    features: Any = None,
    names: np.ndarray | None = None,
) -> DriftExplanation:
    """What separates ``recent`` from ``reference`` (see :mod:`~sentiment_lib.monitoring.drift_explanation`).

    The domain classifier is fitted once on all texts (the AUC comes from cross-validation; the weights to
    read are those of one model of everything) and its word n-grams ranked by weight.

    Args:
        reference: the training texts of the drift test.
        recent: its recent texts.
        predicted: the champion's labels for (``reference``, ``recent``); without them there is no label shift.
        features: :func:`domain_features` of ``reference + recent`` with their ``names``; built when not given.
        names: the name of each column of ``features``.
    """
    if features is None or names is None:
        features, names = domain_features(list(reference) + list(recent))
    is_recent = _is_recent(reference, recent)
    weights = _domain_classifier().fit(features, is_recent).coef_[0]
    words = np.flatnonzero(np.char.startswith(names.astype(str), f"{WORDS}__"))
    typical_of_recent, typical_of_reference = drift_explanation.top_ngrams(
        features[:, words], [n.split("__", 1)[1] for n in names[words]], weights[words], is_recent
    )
    return DriftExplanation(
        recent_texts=len(recent),
        reference_texts=len(reference),
        typical_of_recent=typical_of_recent,
        typical_of_reference=typical_of_reference,
        descriptors=drift_explanation.descriptor_shifts(reference, recent),
        label_shift=None if predicted is None else drift_explanation.label_share_shift(*predicted),
    )


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
    Drift that ``acknowledged`` still covers (see :mod:`~sentiment_lib.monitoring.acknowledgements`) is
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
        drift, explanation = _explained_drift_check(predictor, reference_texts, recent, settings)
        ngrams = [n.ngram for n in explanation.typical_of_recent]
        covered = acknowledged is not None and drift.fired and acknowledged.covers(model_version, drift.value, ngrams)
        checks.append(acknowledgements.unfire(drift, acknowledged) if covered else drift)
    if len(served_confidences):
        # the latest window of predictions, as for labelled feedback: the estimate follows the traffic
        latest = np.asarray(served_confidences)[-settings.staleness_window :]
        checks.append(
            estimated_accuracy_check(latest, baseline, settings.accuracy_tolerance, settings.min_feedback_rows)
        )
    verdict = decide(checks)
    row = {"time": now.isoformat(timespec="seconds"), "model_version": model_version, "status": verdict.status}
    row.update({c.name: round(c.value, 4) for c in checks})
    row.update({f"{c.name}_threshold": round(c.threshold, 4) for c in checks})
    for check in checks:
        row.update({name: round(value, 4) for name, value in check.interval_numbers().items()})
    ack = asdict(acknowledged) if covered else None
    return Assessment(
        verdict, model_version, baseline, len(window), len(served_texts), row, explanation, reference_name, ack
    )


def _explained_drift_check(
    predictor, reference_texts: list[str], recent: list[str], settings
) -> tuple[Check, DriftExplanation]:
    """The drift check of ``recent`` against ``drift_sample`` training texts, and its explanation."""
    rng = np.random.default_rng(settings.seed)
    sample = list(rng.choice(reference_texts, size=min(settings.drift_sample, len(reference_texts)), replace=False))
    # one feature matrix for the cross-validated AUC, every permutation, and the explanation's fit
    features, names = domain_features(sample + recent)
    check = drift_check(
        sample, recent, settings.drift_permutations, settings.drift_alpha, settings.seed, features=features
    )
    labels = predictor.predict(sample + recent).labels
    explained = explain_drift(sample, recent, (labels[: len(sample)], labels[len(sample) :]), features, names)
    return check, explained


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
