"""Run the pipeline's notebooks with papermill: strict parameters, one folder of reports per cycle."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import papermill
from jupyter_client.kernelspec import KernelSpecManager
from nbclient.exceptions import CellTimeoutError, DeadKernelError

from sentiment_lib import reports
from sentiment_lib.errors import ConfigError, StepFailedError
from sentiment_lib.progress import ProgressRelay
from sentiment_lib.settings import apply_offline_defaults, coerce, field_types, settings_for
from sentiment_lib.workspace import NOTEBOOK_DIR, Workspace

log = logging.getLogger(__name__)

STEPS = {
    "preprocess": "01_preprocess.ipynb",
    "train": "02_train.ipynb",
    "evaluate": "03_evaluate.ipynb",
    "staleness": "04_staleness.ipynb",
    "explore": "05_explore.ipynb",
}
TRAINING_STEPS = ("preprocess", "train", "evaluate")
KERNEL_NAME = "sentiment-pipeline"
_PAPERMILL_TYPES = {"int": int, "float": float, "bool": bool, "str": str}


def new_cycle_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%d-%H%M%S")


def notebook_path(step: str) -> Path:
    if step not in STEPS:
        raise ConfigError(f"Unknown step {step!r}. Steps: {', '.join(STEPS)}")
    return NOTEBOOK_DIR / STEPS[step]


def declared_parameters(step: str) -> dict[str, dict[str, Any]]:
    """The parameters a step's notebook declares in its ``parameters`` cell, with their types."""
    path = notebook_path(step)
    return dict(_inspect_notebook(path, path.stat().st_mtime_ns))


@functools.lru_cache(maxsize=len(STEPS) * 2)
def _inspect_notebook(path: Path, mtime_ns: int) -> dict[str, dict[str, Any]]:
    # keyed on the file's mtime: a notebook edited while the loop runs is read again on the next cycle
    papermill_log = logging.getLogger("papermill")
    level = papermill_log.level
    papermill_log.setLevel(logging.WARNING)  # else every command's start logs "Input Notebook" once per step
    try:
        return dict(papermill.inspect_notebook(str(path)))
    finally:
        papermill_log.setLevel(level)


def _coerce_declared(name: str, value: Any, info: Mapping[str, Any]) -> Any:
    wanted = _PAPERMILL_TYPES.get(str(info.get("inferred_type_name")), str)
    try:
        return coerce(name, value) if name in field_types() else wanted(value)
    except ValueError:
        raise ConfigError(f"Parameter {name!r} must be {wanted.__name__}, got {value!r}") from None


def check_parameter_names(steps: Sequence[str], overrides: Mapping[str, Any]) -> None:
    """Raise ConfigError naming every override that none of ``steps`` declares."""
    declared = set().union(*(declared_parameters(step) for step in steps))
    unknown = sorted(set(overrides) - declared)
    if unknown:
        raise ConfigError(
            f"Unknown parameter(s) {unknown} for {'/'.join(steps)}. Declared: {', '.join(sorted(declared))}"
        )


def check_overrides(overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Check that every override is a setting or a parameter some notebook declares.

    Raises:
        ConfigError: a name that nothing knows, so a typo never goes unnoticed in an unattended loop.
    """
    known = set(field_types()).union(*(declared_parameters(step) for step in STEPS))
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ConfigError(f"Unknown parameter(s) {unknown}. Known: {', '.join(sorted(known))}")
    return dict(overrides)


def build_parameters(
    step: str, preset: str | None, overrides: Mapping[str, Any], cycle: str, workspace: str | Path = "."
) -> dict[str, Any]:
    """Parameters to inject into a step: resolved settings for every declared setting, then overrides.

    Raises:
        ConfigError: an override the notebook does not declare, or an invalid value.
    """
    declared = declared_parameters(step)
    settings = settings_for(preset, overrides)
    params = {name: getattr(settings, name) for name in declared if name in field_types()}
    params.update({k: _coerce_declared(k, v, declared[k]) for k, v in overrides.items() if k in declared})
    if "cycle" in declared:
        params["cycle"] = cycle
    if "workspace" in declared:
        params["workspace"] = str(Path(workspace).resolve())
    return params


def kernel_name() -> str:
    """The project's kernel if ``make install`` registered it, else this interpreter's own kernel."""
    return KERNEL_NAME if KERNEL_NAME in KernelSpecManager().find_kernel_specs() else "python3"


def run_step(
    step: str,
    parameters: Mapping[str, Any],
    cycle_dir: str | Path,
    workspace: str | Path,
    timeout: int | None = None,
) -> Path:
    """Execute one notebook into ``cycle_dir`` and render its HTML report, whether it fails or not.

    Raises:
        StepFailedError: the notebook raised; the message names the failing cell and the error,
            and the executed notebook is kept.
    """
    cycle_dir = Path(cycle_dir)
    cycle_dir.mkdir(parents=True, exist_ok=True)
    output = cycle_dir / STEPS[step]
    apply_offline_defaults()
    log.info("Running %s -> %s", step, output)
    started_at = datetime.now(UTC).isoformat()
    started = time.perf_counter()
    error = ""
    try:
        papermill.execute_notebook(
            str(notebook_path(step)),
            str(output),
            parameters=dict(parameters),
            kernel_name=kernel_name(),
            cwd=str(Path(workspace).resolve()),
            execution_timeout=timeout,
            progress_bar=False,
            stderr_file=ProgressRelay(),  # training's progress lines reach the console and logs/runner.log
        )
    except papermill.PapermillExecutionError as err:
        error = f"cell {err.cell_index} (execution count {err.exec_count}) raised {err.ename}: {err.evalue}"
    except CellTimeoutError:
        error = f"a cell ran longer than the {timeout} s timeout"
    except DeadKernelError as err:
        error = f"the kernel died: {err}"
    except Exception as err:  # papermill or the disk failed outside a cell: still a failed step, never "ok"
        error = f"{type(err).__name__}: {err}"
    finally:
        seconds = time.perf_counter() - started
        html = reports.render_html(output) if output.exists() else None
        record = reports.StepRecord(
            step, "failed" if error else "ok", seconds, output.name, html.name if html else "", started_at, error
        )
        reports.record_step(cycle_dir, record)
        reports.write_index(cycle_dir.parent)
    if error:
        raise StepFailedError(f"Step {step!r} failed in {output}: {error}", executed_notebook=str(output))
    return output


def run_step_with_retry(
    step: str,
    parameters: Mapping[str, Any],
    cycle_dir: str | Path,
    workspace: str | Path,
    timeout: int | None = None,
    retries: int = 0,
) -> Path:
    """:func:`run_step`, tried again up to ``retries`` times: a dead kernel or a slow moment is often passing.

    Raises:
        StepFailedError: the last attempt failed too.
    """
    failures = 0
    while True:
        try:
            return run_step(step, parameters, cycle_dir, workspace, timeout)
        except StepFailedError as err:
            failures += 1
            if failures > retries:
                raise
            log.warning("%s; trying again (retry %d of %d)", err, failures, retries)


def run_steps(
    steps: Sequence[str],
    preset: str | None,
    overrides: Mapping[str, Any],
    workspace: str | Path = ".",
    cycle: str | None = None,
    timeout: int | None = None,
    retries: int = 0,
) -> list[Path]:
    """Run ``steps`` in order in one cycle; stop at the first failure (StepFailedError).

    ``timeout`` limits each cell (seconds); a failed step is run again up to ``retries`` times.

    Raises:
        ConfigError: an override no step declares, or an invalid value (checked before anything runs).
        StepFailedError: a notebook failed.
    """
    check_parameter_names(steps, overrides)
    cycle = cycle or new_cycle_id()
    plans = []
    for step in steps:
        # only overrides a step declares go to it; each step still gets the preset's values
        own = {k: v for k, v in overrides.items() if k in declared_parameters(step)}
        plans.append((step, build_parameters(step, preset, own, cycle, workspace)))
    cycle_dir = Workspace(workspace, settings_for(preset, overrides)).cycle_dir(cycle)
    return [run_step_with_retry(step, params, cycle_dir, workspace, timeout, retries) for step, params in plans]
