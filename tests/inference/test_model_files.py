from __future__ import annotations

from sentiment_lib.inference import model_files


def test_temperature_is_stored_beside_the_weights(tmp_path):
    assert model_files.load_temperature(tmp_path) == 1.0  # a model saved before calibration existed
    model_files.save_temperature(tmp_path, 1.7)
    assert model_files.load_temperature(tmp_path) == 1.7
    assert not list(tmp_path.glob("*.tmp"))  # written atomically: no temporary file left behind


def test_int8_path_is_inside_the_model_folder(tmp_path):
    assert model_files.int8_path(tmp_path) == tmp_path / "onnx" / "model.int8.onnx"
