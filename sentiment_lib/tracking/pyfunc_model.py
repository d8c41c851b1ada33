"""The registered MLflow model, logged as code ("models from code") rather than as a pickle.

MLflow copies this file into the model's artifacts and runs it when the model is loaded; it must stay
importable on its own (it imports the installed ``sentiment_lib`` only).
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from mlflow.models import set_model
from mlflow.pyfunc import PythonModel

from sentiment_lib.data.schema import TEXT_COLUMN
from sentiment_lib.errors import ModelError
from sentiment_lib.inference.predictor import SentimentPredictor


class SentimentPyfunc(PythonModel):
    """Predicts from a DataFrame with a ``Review`` column; returns ``sentiment`` and ``confidence``."""

    def load_context(self, context: Any) -> None:
        self.model_dir = context.artifacts["model_dir"]
        self.predictor = SentimentPredictor.from_directory(self.model_dir)

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict | None = None) -> pd.DataFrame:
        if TEXT_COLUMN not in model_input.columns:
            raise ModelError(f"Input needs a {TEXT_COLUMN!r} column; got {list(model_input.columns)}")
        return self.predictor.predict(model_input[TEXT_COLUMN].astype(str).tolist()).to_frame()


set_model(SentimentPyfunc())
