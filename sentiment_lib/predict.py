"""Import path kept for model versions registered before the package was split into stages.

Their stored pyfunc code runs ``from sentiment_lib.predict import SentimentPredictor`` when MLflow loads them
(tests/integration/test_legacy_versions.py loads such a version). New code imports
:mod:`sentiment_lib.inference.predictor`.
"""

from sentiment_lib.inference.predictor import SentimentPredictor

__all__ = ["SentimentPredictor"]
