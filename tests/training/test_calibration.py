from __future__ import annotations

import numpy as np
import pytest

from sentiment_lib.training import calibration
from sentiment_lib.training.evaluate import calibration_error


def overconfident_sample(true_temperature: float, n: int = 20000, seed: int = 0):
    """Logits whose labels were drawn from softmax(logits / true_temperature)."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 4, size=(n, 2))
    scaled = logits / true_temperature
    p_positive = np.exp(scaled[:, 1]) / np.exp(scaled).sum(axis=1)
    return logits, (rng.random(n) < p_positive).astype(int)


@pytest.mark.parametrize("true_temperature", [0.7, 1.0, 2.5])
def test_fit_temperature_recovers_the_temperature_that_generated_the_labels(true_temperature):
    logits, labels = overconfident_sample(true_temperature)
    fitted = calibration.fit_temperature(logits, labels)
    assert fitted == pytest.approx(true_temperature, rel=0.08)
    nll = calibration.negative_log_likelihood
    assert nll(logits, labels, fitted) <= nll(logits, labels, 1.0) + 1e-9


def test_bad_input():
    with pytest.raises(ValueError, match="as many labels"):
        calibration.fit_temperature(np.zeros((3, 2)), np.zeros(2, dtype=int))


def test_calibration_error_of_logits_at_a_temperature():
    logits, labels = np.array([[0.0, 12.0], [12.0, 0.0]]), np.array([1, 0])
    # sure and right: no gap; a huge temperature makes the same right answers look like coin flips
    assert calibration_error(logits, labels, 1.0) == pytest.approx(0.0, abs=1e-4)
    assert calibration_error(logits, labels, 1000.0) == pytest.approx(0.5, abs=0.01)
