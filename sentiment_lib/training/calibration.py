"""Temperature scaling: one number, fitted on validation, that makes confidences match accuracy.

Dividing the logits by a temperature T > 1 softens over-confident answers (T < 1 sharpens) without
changing any predicted label. It is fitted by minimising the negative log-likelihood of the validation
labels and stored beside the weights (``calibration.json``, see ``inference/model_files.py``), so every
loader of a version applies it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax

from sentiment_lib.data.schema import LABEL_COLUMN, TEXT_COLUMN, labels_to_ids
from sentiment_lib.inference import model_files
from sentiment_lib.inference.predictor import SentimentPredictor
from sentiment_lib.training.evaluate import calibration_error


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


@dataclass(frozen=True)
class CalibrationResult:
    temperature: float
    nll_before: float
    nll_after: float
    ece_before: float
    ece_after: float

    def metrics(self) -> dict[str, float]:
        return {f"val_{name}": value for name, value in asdict(self).items() if name != "temperature"} | {
            "temperature": self.temperature
        }


def calibrate(model_dir: str | Path, validation: pd.DataFrame) -> CalibrationResult:
    """Fit temperature scaling on ``validation`` with the fp32 model; store it beside the weights.

    Every back-end of the saved model (fp32 and int8) then divides its logits by the same temperature.
    """
    logits = SentimentPredictor.from_directory(model_dir, backend="torch").logits(validation[TEXT_COLUMN].tolist())
    labels = np.array(labels_to_ids(validation[LABEL_COLUMN]))
    temperature = fit_temperature(logits, labels)
    model_files.save_temperature(model_dir, temperature)
    return CalibrationResult(
        temperature,
        negative_log_likelihood(logits, labels, 1.0),
        negative_log_likelihood(logits, labels, temperature),
        calibration_error(logits, labels, 1.0),
        calibration_error(logits, labels, temperature),
    )
