"""Input drift: can a classifier tell recent texts from the reference (training) texts, and by what?

The domain classifier's cross-validated AUC against a permutation test says whether there is drift; the
same classifier fitted once on everything says what separates the two samples, in word n-grams a person
can read (see :mod:`~sentiment_lib.monitoring.checks.drift_explanation` for the rest of the explanation).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import FeatureUnion

from sentiment_lib.monitoring.checks import drift_explanation
from sentiment_lib.monitoring.checks.drift_explanation import DriftExplanation
from sentiment_lib.monitoring.checks.verdicts import Check

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


def explain_drift(
    reference: list[str],
    recent: list[str],
    predicted: tuple[list[str], list[str]] | None = None,
    features: Any = None,
    names: np.ndarray | None = None,
) -> DriftExplanation:
    """What separates ``recent`` from ``reference`` (see :mod:`~sentiment_lib.monitoring.checks.drift_explanation`).

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


def explained_drift_check(
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
