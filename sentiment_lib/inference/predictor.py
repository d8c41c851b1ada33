"""The one predictor used by evaluation, the MLflow pyfunc model, batch inference and the API.

Texts go through the same normalisation as training, are tokenized once, sorted by token count so each
batch pads little, and run through one of three back-ends: ``torch`` (fp32, ``torch.inference_mode``),
``onnx-int8`` (ONNX Runtime, int8 weights) or ``openvino`` (the fp32 graph, bfloat16 on a CPU with AMX).
Results come back in the caller's order.
"""

from __future__ import annotations

import importlib.util
import logging
import threading
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
from sentiment_lib.inference.cpu import CPUINFO, cpu_flags, usable_cores
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


def graph_file(model_dir: Path, path: Path, what: str, remedy: str) -> Path:
    """``path`` if the graph a back-end needs is there.

    Raises:
        ModelError: it is not, with ``remedy``.
    """
    if not path.is_file():
        raise ModelError(f"{model_dir} has no {what} ({path.relative_to(model_dir)}): {remedy}")
    return path


class OnnxBackend:
    """ONNX Runtime on the int8 model exported beside the weights at registration."""

    def __init__(self, model_dir: Path, threads: int):
        import onnxruntime as ort

        path = graph_file(model_dir, model_files.int8_path(model_dir), "int8 ONNX model",
                          "register it again, or serve it with SENTIMENT_BACKEND=torch")  # fmt: skip
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def logits(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        return self.session.run(None, inputs)[0]


class OpenVinoBackend:
    """OpenVINO on the fp32 graph exported beside the int8 one. On a CPU with AMX it computes in bfloat16 (its
    default there), about twice the int8 model's sentences/s at fp32's labels but for rounding (measured in
    benchmarks/bench_inference.py); elsewhere in fp32, slower than onnx-int8."""

    def __init__(self, model_dir: Path, threads: int):
        try:
            import openvino
        except ImportError:
            raise ModelError(
                "the openvino back-end needs the openvino package: pip install 'sentiment-lib[openvino]'"
            ) from None
        path = graph_file(model_dir, model_files.fp32_onnx_path(model_dir), "fp32 ONNX graph", "versions registered "
                          "before it was kept lack it: register it again, or serve it with onnx-int8")  # fmt: skip
        core = openvino.Core()
        options = {"INFERENCE_NUM_THREADS": threads, "PERFORMANCE_HINT": "LATENCY"}
        self.model = core.compile_model(core.read_model(str(path)), "CPU", options)
        self._requests = threading.local()  # an infer request serves one thread at a time

    def logits(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        request = getattr(self._requests, "request", None)
        if request is None:
            request = self._requests.request = self.model.create_infer_request()
        rows = len(inputs["input_ids"])
        return np.array(request.infer(padded_to_bucket(inputs))[0])[:rows]


# OpenVINO prepares and keeps kernels for every input shape it meets: a server's micro-batches of every size
# and width grew one process to 2 GB in 3,000 calls. Rounding batches up to a power of two and widths up to a
# multiple of 16 bounds the shapes (6 x 8 at 128 tokens) at the same median time per call.
WIDTH_STEP = 16


def padded_to_bucket(inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """``inputs`` padded with rows and columns the model ignores, to a bounded set of shapes."""
    rows, width = inputs["input_ids"].shape
    bucket_rows = 1 << max(rows - 1, 0).bit_length()
    bucket_width = -(-width // WIDTH_STEP) * WIDTH_STEP
    padded = {}
    for name, values in inputs.items():
        grown = np.zeros((bucket_rows, bucket_width), dtype=values.dtype)
        grown[:rows, :width] = values
        padded[name] = grown
    padded["attention_mask"][rows:, 0] = 1  # a row that attends to nothing would divide by zero
    return padded


def fastest_backend(cpuinfo: Path = CPUINFO) -> str:
    """The back-end with the most sentences/s here, as measured (docs "Measured results"): ``openvino`` on a CPU
    with AMX (bfloat16 products, about twice onnx-int8) when it is installed, else ``onnx-int8``."""
    return "openvino" if "amx_bf16" in cpu_flags(cpuinfo) and importlib.util.find_spec("openvino") else "onnx-int8"


def default_threads() -> int:
    """``SENTIMENT_THREADS`` if set, else every core this process may run on."""
    threads = runtime().threads
    if threads:
        return threads
    return usable_cores()


def make_backend(model_dir: Path, backend: str, threads: int) -> Backend:
    """Raises ModelError for an unknown back-end name."""
    if backend == "torch":
        return TorchBackend(model_dir, threads)
    if backend == "onnx-int8":
        return OnnxBackend(model_dir, threads)
    if backend == "openvino":
        return OpenVinoBackend(model_dir, threads)
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
