"""The command line and the docs' commands as users run them, each test a process: runner.py --help,
python -m sentiment_lib.cli, import-data writing into --workspace from another folder, the docs site built with
--strict, and the docs' command that prints the OpenAPI document. (The parser itself is tested in tests/cli/,
the docs' links in tests/project/test_docs.py.)"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from tests.cli.test_flags import TABLE
from tests.helpers import REPO, child_env
from tests.project.test_docs import DOCS, PAGES


def test_runner_help_exits_0_and_lists_every_command():
    done = subprocess.run(
        [sys.executable, str(REPO / "runner.py"), "--help"], env=child_env(), capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: runner.py")
    assert all(name in done.stdout for name in json.loads(TABLE.read_text()) if name)


def test_the_package_runs_as_the_runner():
    done = subprocess.run(
        [sys.executable, "-m", "sentiment_lib.cli", "--help"], cwd=REPO, env=child_env(), capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert "import-data" in done.stdout


def test_import_data_writes_into_the_workspace_given(tmp_path):
    source = tmp_path / "pets.csv"
    pd.DataFrame({"text": ["a lovely, calm dog", "it bit me twice"], "stars": ["5", "1"]}).to_csv(source, index=False)
    workspace, elsewhere = tmp_path / "ws", tmp_path / "elsewhere"
    elsewhere.mkdir()
    command = ["import-data", "table", "--source", str(source), "--text-column", "text", "--label-column", "stars"]
    command += ["--label-map", "5=positive,1=negative", "--workspace", str(workspace)]
    env = child_env()
    env.pop("SENTIMENT_WORKSPACE", None)
    done = subprocess.run(
        [sys.executable, str(REPO / "runner.py"), *command], cwd=elsewhere, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    written = pd.read_csv(workspace / "data" / "raw" / "sentiment_analysis.csv")
    assert written["Sentiment"].tolist() == ["positive", "negative"]
    assert not (elsewhere / "data").exists()


def test_docs_build_strict_and_offline(tmp_path):
    mkdocs = shutil.which("mkdocs", path=str(Path(sys.executable).parent)) or shutil.which("mkdocs")
    if mkdocs is None:
        pytest.skip("mkdocs is not installed (make install installs it)")
    site = tmp_path / "site"
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    done = subprocess.run(
        [mkdocs, "build", "--strict", "--site-dir", str(site)],
        cwd=REPO,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "WARNING" not in done.stderr, done.stderr
    pages = sorted(site.glob("*.html"))
    assert {p.stem for p in PAGES} <= {p.stem for p in pages}  # no directory URLs: pages open from file://
    assert (site / "img" / "package-layout.svg").is_file()
    for page in pages:
        html = page.read_text(encoding="utf-8")
        # nothing the page loads comes from the network: no CDN script, stylesheet or web font
        loaded = re.findall(r"<(?:script|img|iframe)[^>]*\ssrc=\"([^\"]+)\"|<link[^>]*\shref=\"([^\"]+)\"", html)
        remote = [a or b for a, b in loaded if re.match(r"^(https?:)?//", a or b)]
        assert not remote, f"{page.name} loads {remote}"
        assert "fonts.googleapis" not in html


def test_openapi_document_command_in_the_docs_works(tmp_path):
    """docs/serving.md shows how to get the OpenAPI document without a server; that command must work."""
    text = (DOCS / "serving.md").read_text(encoding="utf-8")
    block = re.search(r"```bash\n(\.venv/bin/python -c \"import json.*?)\n```", text, re.S)
    assert block, "docs/serving.md lost the command that prints the OpenAPI document"
    command = block.group(1).replace(".venv/bin/python", f'"{sys.executable}"', 1).replace("> openapi.json", "")
    done = subprocess.run(
        ["bash", "-c", command],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert done.returncode == 0, done.stderr
    assert '"openapi": "3.1.0"' in done.stdout and '"/predict"' in done.stdout
