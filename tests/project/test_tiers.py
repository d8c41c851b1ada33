"""Every test file is in exactly one tier, named by its folder: the unit tier mirrors the package, each slow tier
is a folder of its own, and pyproject.toml declares the markers tests/conftest.py applies from them."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from tests.helpers import REPO, SLOW_TIERS, TESTS, TIERS, tier_of

PACKAGE = REPO / "sentiment_lib"
HAND_MARK = re.compile(r"\bmark\.(\w+)\b")


def all_test_files() -> list[Path]:
    return sorted(path for path in TESTS.rglob("test_*.py") if "fixtures" not in path.parts)


def unit_home_is_the_package(path: Path) -> bool:
    """A unit test file sits where its code does: tests/<package>/, tests/test_<module>.py, or tests/project/."""
    parts = path.relative_to(TESTS).parts
    if len(parts) == 1:
        return (PACKAGE / parts[0].removeprefix("test_")).with_suffix(".py").is_file()
    return parts[0] == "project" or (PACKAGE / parts[0] / "__init__.py").is_file()


def test_the_tier_comes_from_the_top_folder():
    assert tier_of(TESTS / "integration" / "serving" / "test_api.py") == "integration"
    assert tier_of(TESTS / "serving" / "test_access.py") == "unit"
    assert tier_of(TESTS / "test_io.py") == "unit"


def test_each_test_file_lands_in_exactly_one_tier():
    for path in all_test_files():
        by_hand = set(HAND_MARK.findall(path.read_text())) & set(TIERS)
        assert by_hand <= {tier_of(path)}, f"{path.relative_to(REPO)}: marked {sorted(by_hand)} by hand"


def test_unit_files_mirror_the_package():
    unit = [path for path in all_test_files() if tier_of(path) == "unit"]
    strays = [str(path.relative_to(REPO)) for path in unit if not unit_home_is_the_package(path)]
    assert strays == [], "a unit test lives where its module does (tests/<package>/ or tests/test_<module>.py)"


def test_every_tier_is_a_folder_with_tests_and_a_declared_marker():
    pytest_options = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    declared = {marker.split(":")[0] for marker in pytest_options["markers"]}
    assert declared == {*TIERS, "slow"}
    for tier in SLOW_TIERS:
        assert any(tier_of(path) == tier for path in all_test_files()), f"tests/{tier}/ has no tests"
    assert sum(tier_of(path) == "unit" for path in all_test_files()) > 40
