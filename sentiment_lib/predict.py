"""The one predictor used by evaluation, the MLflow pyfunc model, batch inference and the API.

Texts go through the same normalisation as training, are sorted by length so each batch pads little,
and run under ``torch.inference_mode``; results come back in the caller's order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from sentiment_lib.data import LABELS, normalize_text
from sentiment_lib.errors import ModelError


@dataclass(frozen=True)
class Predictions:
    """Labels, the confidence of each label, and P(positive), aligned with the input texts."""

    labels: list[str]
    confidences: np.ndarray
    positive_probabilities: np.ndarray

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame({"sentiment": self.labels, "confidence": self.confidences})


class SentimentPredictor:
    """Wraps a fine-tuned sequence classifier for fast CPU prediction."""

    def __init__(self, model: torch.nn.Module, tokenizer, max_length: int = 128, batch_size: int = 64):
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.batch_size = batch_size

    @classmethod
    def from_directory(cls, path: str | Path, max_length: int = 128, batch_size: int = 64) -> SentimentPredictor:
        """Load a model saved by ``Trainer.save_model``.

        Raises:
            ModelError: the folder does not hold a loadable model.
        """
        try:
            tokenizer = AutoTokenizer.from_pretrained(str(path))
            model = AutoModelForSequenceClassification.from_pretrained(str(path))
        except OSError as err:
            raise ModelError(f"Cannot load a model from {path}: {err}") from None
        return cls(model, tokenizer, max_length, batch_size)

    def predict(self, texts: Sequence[str]) -> Predictions:
        """Predict every text; results are in the order of ``texts``."""
        cleaned = [normalize_text(t) for t in texts]
        order = np.argsort([len(t) for t in cleaned], kind="stable")
        probabilities = np.zeros((len(cleaned), len(LABELS)), dtype=np.float32)
        for start in range(0, len(order), self.batch_size):
            chunk = order[start : start + self.batch_size]
            probabilities[chunk] = self._probabilities([cleaned[i] for i in chunk])
        best = probabilities.argmax(axis=1)
        return Predictions(
            labels=[LABELS[i] for i in best],
            confidences=probabilities.max(axis=1),
            positive_probabilities=probabilities[:, LABELS.index("positive")],
        )

    def _probabilities(self, texts: list[str]) -> np.ndarray:
        batch = self.tokenizer(texts, truncation=True, max_length=self.max_length, padding=True, return_tensors="pt")
        with torch.inference_mode():
            logits = self.model(**batch).logits
        return torch.softmax(logits.float(), dim=-1).numpy()
