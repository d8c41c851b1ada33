"""The one predictor used by evaluation, the MLflow pyfunc model, batch inference and the API.

Texts go through the same normalisation as training, are tokenized once, sorted by token count so each
batch pads little, and run through one of two back-ends: ``torch`` (fp32, ``torch.inference_mode``) or
``onnx-int8`` (ONNX Runtime, fused graph, int8 weights). Results come back in the caller's order.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd
from scipy.special import softmax
from tokenizers import Tokenizer

from sentiment_lib.data.schema import LABELS, normalize_text
from sentiment_lib.errors import ModelError
from sentiment_lib.inference import model_files
from sentiment_lib.inference.tokenization import LEGACY_READING, Reading, encode, load_tokenizer, pad_batch
from sentiment_lib.settings.runtime import BACKENDS, runtime

log = logging.getLogger(__name__)

DEFAULT_BACKEND = BACKENDS[0]
DEFAULT_BATCH_SIZE = 32


@dataclass(frozen=True)
class Predictions:
    """Labels, the confidence of each label, and P(positive), aligned with the input texts."""

    labels: list[str]
    confidences: np.ndarray
    positive_probabilities: np.ndarray

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame({"sentiment": self.labels, "confidence": self.confidences})


class Backend(Protocol):
    def logits(self, inputs: dict[str, np.ndarray]) -> np.ndarray: ...


class TorchBackend:
    """fp32 PyTorch."""

    def __init__(self, model_dir: Path, threads: int):
        # imported here: a server on the ONNX back-end saves torch's ~200 MB of resident memory
        import torch
        from transformers import AutoModelForSequenceClassification

        torch.set_num_threads(threads)
        self.torch = torch
        self.model = AutoModelForSequenceClassification.from_pretrained(str(model_dir)).eval()

    def logits(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        torch = self.torch
        with torch.inference_mode():
            # ids and mask only: not every architecture takes token_type_ids (DistilBERT does not)
            ids, mask = torch.from_numpy(inputs["input_ids"]), torch.from_numpy(inputs["attention_mask"])
            out = self.model(input_ids=ids, attention_mask=mask)
        return out.logits.float().numpy()


class OnnxBackend:
    """ONNX Runtime on the int8 model exported beside the weights at registration."""

    def __init__(self, model_dir: Path, threads: int):
        import onnxruntime as ort

        path = model_files.int8_path(model_dir)
        if not path.is_file():
            raise ModelError(
                f"{model_dir} has no int8 ONNX model ({model_files.ONNX_DIR}/{model_files.INT8_FILE}): "
                "register it again, or serve it with SENTIMENT_BACKEND=torch"
            )
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def logits(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        return self.session.run(None, inputs)[0]


def default_threads() -> int:
    """``SENTIMENT_THREADS`` if set, else every core this process may run on."""
    threads = runtime().threads
    if threads:
        return threads
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def make_backend(model_dir: Path, backend: str, threads: int) -> Backend:
    """Raises ModelError for an unknown back-end name."""
    if backend == "torch":
        return TorchBackend(model_dir, threads)
    if backend == "onnx-int8":
        return OnnxBackend(model_dir, threads)
    raise ModelError(f"Unknown inference backend {backend!r}; choose one of {BACKENDS}")


class SentimentPredictor:
    """A fine-tuned classifier behind a fast, order-preserving ``predict``."""

    def __init__(
        self,
        backend: Backend,
        tokenizer: Tokenizer,
        batch_size: int,
        name: str,
        temperature: float = 1.0,
        reading: Reading | None = None,
    ):
        self.backend = backend
        self.tokenizer = tokenizer
        self.reading = reading or LEGACY_READING  # how much of a long text it reads, as in training
        self.batch_size = batch_size
        self.backend_name = name
        self.temperature = temperature  # see sentiment_lib/training/calibration.py
        self.pad_id = tokenizer.token_to_id("[PAD]") or 0

    @classmethod
    def from_directory(
        cls,
        path: str | Path,
        backend: str | None = None,
        max_length: int | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        threads: int | None = None,
    ) -> SentimentPredictor:
        """Load a model saved by ``Trainer.save_model``.

        ``backend`` defaults to ``SENTIMENT_BACKEND`` or onnx-int8, ``threads`` to :func:`default_threads`.
        The folder's fitted temperature, if any, scales every answer's confidence; texts are cut as its stored
        reading says (``max_length`` overrides its length).

        Raises:
            ModelError: the folder does not hold a loadable model, or the back-end is unknown.
        """
        path = Path(path)
        name = backend or runtime().backend
        try:
            tokenizer = load_tokenizer(path)
            reading = Reading.load(path)
            engine = make_backend(path, name, threads or default_threads())
        except (OSError, TypeError, ValueError) as err:
            raise ModelError(f"Cannot load a model from {path}: {err}") from None
        if max_length is not None:
            reading = Reading(max_length, reading.truncation)
        return cls(engine, tokenizer, batch_size, name, model_files.load_temperature(path), reading)

    def predict(self, texts: Sequence[str]) -> Predictions:
        """Predict every text; results are in the order of ``texts``."""
        return self.from_logits(self.logits(texts))

    def from_logits(self, logits: np.ndarray, temperature: float | None = None) -> Predictions:
        """Labels and confidences from raw scores, at the fitted temperature unless one is given."""
        probabilities = self.scaled_softmax(logits, temperature)
        best = probabilities.argmax(axis=1)
        return Predictions(
            labels=[LABELS[i] for i in best],
            confidences=probabilities.max(axis=1),
            positive_probabilities=probabilities[:, LABELS.index("positive")],
        )

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        """Calibrated class probabilities, one row per text, columns in the order of ``LABELS``."""
        return self.scaled_softmax(self.logits(texts))

    def scaled_softmax(self, logits: np.ndarray, temperature: float | None = None) -> np.ndarray:
        """Softmax of ``logits`` divided by the fitted temperature (or by ``temperature`` when given)."""
        return softmax(logits / (self.temperature if temperature is None else temperature), axis=1)

    def logits(self, texts: Sequence[str]) -> np.ndarray:
        """The model's raw scores (before temperature), one row per text, in the order of ``texts``."""
        if not texts:
            return np.zeros((0, len(LABELS)), dtype=np.float32)
        ids = encode(self.tokenizer, [normalize_text(t) for t in texts], self.reading)
        lengths = np.array([len(row) for row in ids])
        order = np.argsort(lengths, kind="stable")
        out = np.zeros((len(ids), len(LABELS)), dtype=np.float32)
        for start in range(0, len(order), self.batch_size):
            chunk = order[start : start + self.batch_size]
            inputs = pad_batch([ids[i] for i in chunk], int(lengths[chunk].max()), self.pad_id)
            out[chunk] = self.backend.logits(inputs).astype(np.float32)
        return out
