"""The conda environment and the pip requirements pin the same versions."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PIN = re.compile(r"^\s*-?\s*([A-Za-z0-9_.\-\[\]]+)==([^\s#]+)")


def pins(path: Path) -> dict[str, str]:
    found = {}
    for line in path.read_text().splitlines():
        match = PIN.match(line)
        if match:
            found[match.group(1).lower()] = match.group(2)
    return found


def test_environment_yml_matches_requirements():
    requirements = pins(REPO / "requirements.txt")
    environment = pins(REPO / "environment.yml")
    assert requirements["torch"] == "2.13.0"
    assert environment == requirements


def test_every_requirement_is_pinned():
    for line in (REPO / "requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        assert not line or "==" in line, f"unpinned requirement: {line}"


def test_no_generated_data_or_report_is_committed():
    # a feedback store committed by mistake would be trained on by every fresh clone's demo
    if not (REPO / ".git").exists():
        pytest.skip("not a git checkout")
    tracked = subprocess.run(
        ["git", "ls-files", "data", "reports", "state", "outbox", "logs", "models", "wandb"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert tracked == ["data/README.md", "reports/README.md"]
