"""The API follows the model the pipeline registers, whatever the settings name it."""

from __future__ import annotations

import pytest

from tests.helpers import assert_serves, new_registry

pytestmark = pytest.mark.slow


def test_the_api_serves_the_registered_model_named_by_the_settings(tmp_path, small_model, live_server):
    # SENTIMENT_REGISTERED_MODEL_NAME=foo used to train and register foo while the API still followed
    # sentiment-classifier, found no champion and answered 503
    workspace = new_registry(tmp_path, small_model, name="foo")
    env = {"SENTIMENT_REGISTERED_MODEL_NAME": "foo", "SENTIMENT_SERVED_LOG_DIR": "served-elsewhere"}
    server = live_server(workspace, {**env, "SENTIMENT_SERVE_REFRESH_SECONDS": "0"})
    assert_serves(server, "1", "a warm and funny film")
    server.stop()  # its served log is complete
    logged = list((workspace / "served-elsewhere").glob("served-*.jsonl"))
    assert len(logged) == 1 and "a warm and funny film" in logged[0].read_text()
    assert not (workspace / "logs" / "served").exists()
