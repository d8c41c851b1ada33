"""Settings are read in one place: no module outside sentiment_lib/settings reads os.environ or os.getenv.

Writing the environment (offline defaults, a child's environment built from ours) is allowed: it is how the
project hands settings to the tools it runs.
"""

from __future__ import annotations

import ast
from pathlib import Path

import sentiment_lib

PACKAGE = Path(sentiment_lib.__file__).parent
SETTINGS = PACKAGE / "settings"


def _environ_reads(tree: ast.AST) -> list[int]:
    """Lines that read the environment: ``os.getenv(...)``, ``os.environ.get(...)``, ``os.environ[...]`` as a
    value, ``name in os.environ``. ``{**os.environ, ...}``, ``setdefault`` and assignments are writes or copies."""
    return [node.lineno for node in ast.walk(tree) if _reads_environment(node)]


def _reads_environment(node: ast.AST) -> bool:
    if isinstance(node, ast.Call) and _is(node.func, "os.getenv"):
        return True
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and _is(node.func.value, "os.environ"):
        return node.func.attr in {"get", "items", "keys", "values", "copy", "pop"}
    if isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load):
        return _is(node.value, "os.environ")
    return isinstance(node, ast.Compare) and any(_is(c, "os.environ") for c in node.comparators)


def _is(node: ast.AST, dotted: str) -> bool:
    return ast.unparse(node) == dotted


def test_only_the_settings_package_reads_the_environment():
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if SETTINGS in path.parents:
            continue
        lines = _environ_reads(ast.parse(path.read_text(encoding="utf-8"), str(path)))
        offenders += [f"{path.relative_to(PACKAGE.parent)}:{line}" for line in lines]
    assert not offenders, f"read a setting through sentiment_lib.settings instead: {offenders}"


def test_the_check_sees_each_kind_of_read():
    source = """
import os
a = os.environ.get("X")
b = os.environ["Y"]
c = os.getenv("Z")
d = "W" in os.environ
os.environ["V"] = "1"
os.environ.setdefault("U", "1")
e = {**os.environ, "T": "1"}
"""
    assert sorted(_environ_reads(ast.parse(source))) == [3, 4, 5, 6]
