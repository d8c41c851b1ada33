"""nbval over the source notebooks: each one, given the smoke preset's values, runs cell by cell without error."""

from __future__ import annotations

import re
import subprocess
import sys

import nbformat
import papermill
import pytest

from sentiment_lib import notebooks as pipeline
from sentiment_lib.settings import OFFLINE_ENVIRONMENT
from tests.helpers import child_env, write_sst2_sample

pytestmark = pytest.mark.slow


def test_notebooks_pass_nbval(tmp_path):
    cut = write_sst2_sample(tmp_path, rows=400, test_rows=50)
    cells = 0
    for step, name in pipeline.STEPS.items():
        overrides = {"sst2_test_path": str(cut)} if step == "evaluate" else {}
        params = pipeline.build_parameters(step, "smoke", overrides, cycle="nbval")
        # prepare_only injects the parameters without executing: nbval then runs every cell itself
        papermill.execute_notebook(str(pipeline.notebook_path(step)), str(tmp_path / name), params, prepare_only=True)
        cells += sum(c.cell_type == "code" for c in nbformat.read(tmp_path / name, as_version=4).cells)
    env = child_env(**OFFLINE_ENVIRONMENT)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval-lax", *pipeline.STEPS.values()],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout[-3000:]
    assert re.search(rf"\b{cells} passed\b", done.stdout), done.stdout[-500:]
