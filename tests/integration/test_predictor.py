"""The shared predictor: order kept, answers independent of batching, int8 close to fp32."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from sentiment_lib.errors import ModelError
from sentiment_lib.inference import model_files
from sentiment_lib.inference.predictor import SentimentPredictor
from tests.helpers import calibration_texts

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def texts():
    return [*calibration_texts()[:60], "", "short", "emoji 😀 and ünïcödé", "word " * 400]


@pytest.mark.parametrize("backend", ["onnx-int8", "torch", "openvino"])
def test_answers_do_not_depend_on_batching_or_order(served_workspace, small_model, texts, backend):
    predictor = SentimentPredictor.from_directory(small_model, backend=backend, batch_size=7)
    together = predictor.probabilities(texts)
    predictor.batch_size = 1
    alone = predictor.probabilities(texts)
    reversed_order = predictor.probabilities(texts[::-1])[::-1]
    # int8 scales are fixed: bit-identical; bfloat16 products round differently as the padded width changes
    tolerance = {"onnx-int8": 0, "torch": 1e-5, "openvino": 1e-2}[backend]
    assert np.abs(together - alone).max() <= tolerance
    assert np.abs(together - reversed_order).max() <= tolerance
    assert np.allclose(together.sum(axis=1), 1, atol=1e-5)


def test_int8_agrees_with_fp32(served_workspace, small_model, texts):
    int8 = SentimentPredictor.from_directory(small_model, backend="onnx-int8").predict(texts)
    fp32 = SentimentPredictor.from_directory(small_model, backend="torch").predict(texts)
    assert np.abs(int8.positive_probabilities - fp32.positive_probabilities).max() < 0.05


def test_openvino_agrees_with_fp32(served_workspace, small_model, texts):
    openvino = SentimentPredictor.from_directory(small_model, backend="openvino").predict(texts)
    fp32 = SentimentPredictor.from_directory(small_model, backend="torch").predict(texts)
    assert np.abs(openvino.positive_probabilities - fp32.positive_probabilities).max() < 0.05


def test_openvino_refuses_a_version_without_the_fp32_graph_and_says_why(served_workspace, small_model, tmp_path):
    shutil.copytree(small_model, tmp_path / "old", ignore=shutil.ignore_patterns(model_files.FP32_FILE))
    with pytest.raises(ModelError, match=r"has no fp32 ONNX graph \(onnx/model.fp32.onnx.*serve it with onnx-int8"):
        SentimentPredictor.from_directory(tmp_path / "old", backend="openvino")
    assert SentimentPredictor.from_directory(tmp_path / "old").predict(["fine"]).labels  # onnx-int8 still serves it


def test_unknown_backend_and_missing_model(small_model, tmp_path):
    with pytest.raises(ModelError, match="Unknown inference backend 'gpu'"):
        SentimentPredictor.from_directory(small_model, backend="gpu")
    with pytest.raises(ModelError, match=r"has no tokenizer\.json"):
        SentimentPredictor.from_directory(tmp_path)
