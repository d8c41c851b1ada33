"""Temperature scaling: one number, fitted on validation, that makes confidences match accuracy.

Dividing the logits by a temperature T > 1 softens over-confident answers (T < 1 sharpens) without
changing any predicted label. It is fitted by minimising the negative log-likelihood of the validation
labels and stored beside the weights (``calibration.json``), so every loader of a version applies it.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax

CALIBRATION_FILE = "calibration.json"


def negative_log_likelihood(logits: np.ndarray, labels: np.ndarray, temperature: float) -> float:
    scaled = log_softmax(logits / temperature, axis=1)
    return float(-scaled[np.arange(len(labels)), labels].mean())


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """The temperature in [0.05, 20] minimising the NLL of ``labels`` (class indices) given ``logits``.

    Raises:
        ValueError: no rows, or logits and labels of different lengths.
    """
    logits, labels = np.asarray(logits, dtype=np.float64), np.asarray(labels, dtype=int)
    if len(logits) == 0 or len(logits) != len(labels):
        raise ValueError("temperature scaling needs as many labels as rows of logits, and at least one")
    # searched on log T: the loss is much better behaved there than on T
    best = minimize_scalar(
        lambda log_t: negative_log_likelihood(logits, labels, float(np.exp(log_t))),
        bounds=(np.log(0.05), np.log(20.0)),
        method="bounded",
    )
    return float(np.exp(best.x))


def save_temperature(model_dir: str | Path, temperature: float) -> Path:
    path = Path(model_dir) / CALIBRATION_FILE
    path.write_text(json.dumps({"temperature": temperature}, indent=2))
    return path


def load_temperature(model_dir: str | Path) -> float:
    """The stored temperature, or 1.0 (no scaling) for a model saved without one."""
    path = Path(model_dir) / CALIBRATION_FILE
    return float(json.loads(path.read_text())["temperature"]) if path.is_file() else 1.0
