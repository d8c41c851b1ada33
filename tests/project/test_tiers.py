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


# unit test files that test several modules of their package together, and why
ACROSS_MODULES = {
    "cli/test_flags.py": "every command's options, from the parser all the cli modules build",
    "explore/test_error_analysis.py": "05_explore's error analysis: slices, mistakes and compare together",
}


def unit_home_is_the_package(path: Path) -> bool:
    """A unit test file sits where its code does: tests/<package path>/test_<module>.py for
    sentiment_lib/<package path>/<module>.py (tests/test_<module>.py for a top-level module), or tests/project/."""
    relative = path.relative_to(TESTS)
    if relative.parts[0] == "project" or relative.as_posix() in ACROSS_MODULES:
        return True
    module = relative.with_name(relative.name.removeprefix("test_")).with_suffix(".py")
    return (PACKAGE / module).is_file()


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


def test_the_mirror_rule_names_the_module():
    assert unit_home_is_the_package(TESTS / "alerting" / "test_smtp.py")
    assert unit_home_is_the_package(TESTS / "monitoring" / "checks" / "test_staleness.py")
    assert not unit_home_is_the_package(TESTS / "monitoring" / "test_smtp.py")  # smtp is alerting's
    assert not unit_home_is_the_package(TESTS / "test_nothing.py")
