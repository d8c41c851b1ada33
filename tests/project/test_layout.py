"""The package's shape: no import cycles, a server that imports only what serving needs, thin notebooks."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from sentiment_lib import notebooks
from tests.helpers import REPO, child_env

PACKAGE = REPO / "sentiment_lib"
NOTEBOOK_CODE_LIMIT = 40


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, known: set[str]) -> set[str]:
    """The project modules ``path`` imports anywhere in its body (lazy imports inside functions count too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            # "from sentiment_lib.data import feedback" imports the module sentiment_lib.data.feedback
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        found.update(name for name in names if name in known)
    return found


def import_graph() -> dict[str, set[str]]:
    files = {module_name(path): path for path in PACKAGE.rglob("*.py")}
    return {name: imported_modules(path, set(files)) - {name} for name, path in files.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str]:
    """One import cycle as a path of module names, or [] when there is none."""
    state: dict[str, str] = {}

    def visit(node: str, path: list[str]) -> list[str]:
        state[node] = "open"
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                return [*path, node, nxt]
            if nxt not in state and (cycle := visit(nxt, [*path, node])):
                return cycle
        state[node] = "done"
        return []

    for node in sorted(graph):
        if node not in state and (cycle := visit(node, [])):
            return cycle
    return []


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) == []


def test_no_module_imports_one_that_imports_it_back():
    graph = import_graph()
    assert "sentiment_lib.inference.predictor" in graph["sentiment_lib.training.evaluate"]  # the graph is real
    assert find_cycle(graph) == []


# (importer, imported, allowed): no module under ``importer`` imports one under ``imported``, except ``allowed``.
# Each job leans only on the ones below it: the loop drives checks and alerting; alerting words and sends what
# it is given; the checks judge; the library never needs the experiments (only the command line runs them).
FORBIDDEN_IMPORTS = [
    ("sentiment_lib.monitoring", "sentiment_lib.loop", ()),
    ("sentiment_lib.monitoring", "sentiment_lib.alerting", ()),
    ("sentiment_lib.monitoring", "sentiment_lib.experiments", ()),
    # the checks read what the API served (its log files), never the server itself
    ("sentiment_lib.monitoring", "sentiment_lib.serving", ("sentiment_lib.serving.served_log",)),
    ("sentiment_lib.alerting", "sentiment_lib.loop", ()),
    ("sentiment_lib.alerting", "sentiment_lib.monitoring.checks", ()),  # it words what it is given
    ("sentiment_lib.alerting", "sentiment_lib.serving", ()),
    ("sentiment_lib.alerting", "sentiment_lib.tracking", ()),
    ("sentiment_lib.alerting", "sentiment_lib.experiments", ()),
    ("sentiment_lib.loop", "sentiment_lib.serving", ()),
    ("sentiment_lib.loop", "sentiment_lib.experiments", ()),
    # the API shows the loop's heartbeat in /metrics, and sends no alerts
    ("sentiment_lib.serving", "sentiment_lib.loop", ("sentiment_lib.loop.heartbeat",)),
    ("sentiment_lib.serving", "sentiment_lib.alerting", ()),
    ("sentiment_lib.serving", "sentiment_lib.experiments", ()),
    # the labelling queue reads what the API served (its logs), like the checks; the loop drives it
    ("sentiment_lib.labeling", "sentiment_lib.serving", ("sentiment_lib.serving.served_log",)),
    ("sentiment_lib.labeling", "sentiment_lib.loop", ()),
    ("sentiment_lib.labeling", "sentiment_lib.alerting", ()),
    ("sentiment_lib.labeling", "sentiment_lib.experiments", ()),
    # ingestion is given the queue's text finder: the data layer knows no labelling queue
    ("sentiment_lib.data", "sentiment_lib.labeling", ()),
]
EXPERIMENTS_USERS = {"sentiment_lib.cli.loop"}  # the command line runs the experiments; nothing else needs them


def under(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def forbidden_imports(graph: dict[str, set[str]]) -> list[str]:
    """Every import that breaks :data:`FORBIDDEN_IMPORTS`, as "importer -> imported"."""
    broken = []
    for importer, imported, allowed in FORBIDDEN_IMPORTS:
        for module, targets in sorted(graph.items()):
            if under(module, importer):
                # the package itself comes with every "from package import module" (its __init__ is a docstring)
                bad = [t for t in targets if under(t, imported) and t not in allowed and t != imported]
                broken += [f"{module} -> {t}" for t in sorted(bad)]
    return broken


def test_the_rules_catch_a_forbidden_import():
    graph = {"sentiment_lib.alerting.messages": {"sentiment_lib.loop.cycle"}, "sentiment_lib.loop.cycle": set()}
    assert forbidden_imports(graph) == ["sentiment_lib.alerting.messages -> sentiment_lib.loop.cycle"]
    assert forbidden_imports({"sentiment_lib.serving.metrics": {"sentiment_lib.loop.heartbeat"}}) == []


def test_each_job_imports_only_what_it_may():
    graph = import_graph()
    assert "sentiment_lib.alerting.messages" in graph["sentiment_lib.loop.cycle"]  # the graph is real
    assert forbidden_imports(graph) == []


def test_only_the_command_line_imports_the_experiments():
    graph = import_graph()
    users = {m for m, targets in graph.items() if not under(m, "sentiment_lib.experiments")
             and any(under(t, "sentiment_lib.experiments") for t in targets)}  # fmt: skip
    assert users == EXPERIMENTS_USERS


def test_each_stage_is_a_folder_with_its_own_docstring():
    stages = ("data", "training", "inference", "tracking", "serving", "monitoring", "monitoring/checks", "alerting")
    for stage in (*stages, "loop", "labeling", "experiments"):
        init = PACKAGE / stage / "__init__.py"
        assert ast.get_docstring(ast.parse(init.read_text())), f"{stage}/__init__.py says what the stage holds"


def test_importing_the_app_loads_no_notebook_runner_and_no_torch():
    heavy = ("papermill", "nbconvert", "nbclient", "torch", "transformers")
    probe = f"import sys, app; print(','.join(m for m in {heavy!r} if m in sys.modules))"
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, env=child_env(), capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == ""


def code_lines(source: str) -> int:
    """Lines that hold code: blank lines and comment lines are not counted."""
    return sum(1 for line in source.splitlines() if line.strip() and not line.strip().startswith("#"))


@pytest.mark.parametrize("step", list(notebooks.STEPS))
def test_notebooks_are_thin(step):
    notebook = nbformat.read(notebooks.notebook_path(step), as_version=4)
    code = [c for c in notebook.cells if c.cell_type == "code" and "parameters" not in c.metadata.get("tags", [])]
    assert code_lines("\n".join(c.source for c in code)) <= NOTEBOOK_CODE_LIMIT


@pytest.mark.parametrize("step", list(notebooks.STEPS))
def test_every_plot_is_introduced_by_a_sentence(step):
    cells = nbformat.read(notebooks.notebook_path(step), as_version=4).cells
    for i, cell in enumerate(cells):
        if cell.cell_type == "code" and ("plt.show()" in cell.source or "display(SVG(" in cell.source):
            before = cells[i - 1]
            assert before.cell_type == "markdown" and before.source.rstrip().endswith("."), cell.source[:60]


@pytest.mark.parametrize(
    "module", ["reports", "serving/status_page", "tracking/model_card", "monitoring/staleness_chart"]
)
def test_pages_come_from_templates_not_from_markup_escaped_by_hand(module):
    # one forgotten html.escape in an f-string is an injection; the templates escape every value
    tree = ast.parse((PACKAGE / f"{module}.py").read_text())
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    strings = [node.value for node in ast.walk(tree) if isinstance(node, ast.Constant) and isinstance(node.value, str)]
    assert "html" not in imported and not any(tag in s for s in strings for tag in ("<td", "<p>", "<svg", "<tr"))
