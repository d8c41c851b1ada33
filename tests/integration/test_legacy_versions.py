"""Model versions registered before the package was split into stages still load and predict.

MLflow stores a "models from code" version with the code file it was logged with; the fixture is the
pyfunc file of the flat layout verbatim, which imports ``sentiment_lib.data`` and ``sentiment_lib.predict``.
"""

from __future__ import annotations

import mlflow
import pandas as pd
import pytest

from sentiment_lib.tracking import registry, runs
from tests.helpers import REPO

pytestmark = pytest.mark.slow
LEGACY_PYFUNC = REPO / "tests" / "fixtures" / "legacy_pyfunc_model.py"


def test_a_version_logged_with_the_flat_layout_code_loads_and_predicts(tmp_path, small_model, served_workspace):
    # served_workspace registered small_model first, which wrote its int8 ONNX model beside the weights
    assert "from sentiment_lib.predict import SentimentPredictor" in LEGACY_PYFUNC.read_text()
    runs.configure(tmp_path, "legacy")
    with mlflow.start_run():
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=str(LEGACY_PYFUNC),
            artifacts={"model_dir": str(small_model)},
            registered_model_name="legacy-model",
        )
    loaded = registry.load_served_model("legacy-model", version=str(info.registered_model_version))
    answers = loaded.predictor.predict(["a wonderful film", "a dull mess"])
    assert set(answers.labels) <= {"positive", "negative"} and len(answers.labels) == 2
    frame = mlflow.pyfunc.load_model(f"models:/legacy-model/{info.registered_model_version}").predict(
        pd.DataFrame({"Review": ["a wonderful film"]})
    )
    assert list(frame.columns) == ["sentiment", "confidence"]
