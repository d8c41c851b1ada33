"""What a saved model folder holds besides the Hugging Face weights: the fitted temperature, the reading
(how much of a long text it reads) and the int8 ONNX model. Written at training and registration, read by
every loader of a version."""

from __future__ import annotations

import shutil
from pathlib import Path

from sentiment_lib.io import read_json, write_json_atomic

CALIBRATION_FILE = "calibration.json"
ONNX_DIR = "onnx"
INT8_FILE = "model.int8.onnx"
FP32_FILE = "model.fp32.onnx"  # the graph before quantisation, which the openvino back-end compiles
TOKENIZER_FILE = "tokenizer.json"
READING_FILE = "reading.json"  # how much of a long text the model reads (inference/tokenization.py)
# what the onnx-int8 back-end reads: a worker that only predicts needs these, not the 100+ MB of weights
INT8_INFERENCE_FILES = (TOKENIZER_FILE, READING_FILE, CALIBRATION_FILE, f"{ONNX_DIR}/{INT8_FILE}")


def int8_path(model_dir: str | Path) -> Path:
    return Path(model_dir) / ONNX_DIR / INT8_FILE


def fp32_onnx_path(model_dir: str | Path) -> Path:
    return Path(model_dir) / ONNX_DIR / FP32_FILE


def save_temperature(model_dir: str | Path, temperature: float) -> Path:
    return write_json_atomic(Path(model_dir) / CALIBRATION_FILE, {"temperature": temperature})


def load_temperature(model_dir: str | Path) -> float:
    """The stored temperature, or 1.0 (no scaling) for a model saved without one."""
    return float(read_json(Path(model_dir) / CALIBRATION_FILE, {"temperature": 1.0})["temperature"])


def copy_int8_inference_files(model_dir: str | Path, destination: str | Path) -> Path:
    """A folder at ``destination`` with the files the int8 predictor loads (those ``model_dir`` has)."""
    destination = Path(destination)
    for name in INT8_INFERENCE_FILES:
        source = Path(model_dir) / name
        if source.is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / name)
    return destination
