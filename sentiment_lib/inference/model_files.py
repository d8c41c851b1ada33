"""What a saved model folder holds besides the Hugging Face weights: the fitted temperature and the int8
ONNX model. Written at training and registration, read by every loader of a version."""

from __future__ import annotations

from pathlib import Path

from sentiment_lib.io import read_json, write_json_atomic

CALIBRATION_FILE = "calibration.json"
ONNX_DIR = "onnx"
INT8_FILE = "model.int8.onnx"


def int8_path(model_dir: str | Path) -> Path:
    return Path(model_dir) / ONNX_DIR / INT8_FILE


def save_temperature(model_dir: str | Path, temperature: float) -> Path:
    return write_json_atomic(Path(model_dir) / CALIBRATION_FILE, {"temperature": temperature})


def load_temperature(model_dir: str | Path) -> float:
    """The stored temperature, or 1.0 (no scaling) for a model saved without one."""
    return float(read_json(Path(model_dir) / CALIBRATION_FILE, {"temperature": 1.0})["temperature"])
