"""Experiment tracking set-up: MLflow (embedded SQLite store by default) and wandb (offline by default)."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd

from sentiment_lib.settings import Settings, report_targets
from sentiment_lib.settings.runtime import tools
from sentiment_lib.workspace import ARTIFACT_DIR, MLFLOW_STORE_FILE

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrackingInfo:
    tracking_uri: str
    artifact_root: Path
    wandb_dir: Path


def configure(workspace: str | Path, experiment_name: str) -> TrackingInfo:
    """Point MLflow at ``MLFLOW_TRACKING_URI`` or the workspace's SQLite store, and choose the experiment.

    wandb runs offline unless ``WANDB_MODE`` says otherwise; its files go under ``<workspace>/wandb``.
    """
    workspace = Path(workspace).resolve()
    uri = configure_client(workspace)
    artifact_root = workspace / ARTIFACT_DIR
    if mlflow.get_experiment_by_name(experiment_name) is None:
        mlflow.create_experiment(experiment_name, artifact_location=_artifact_location(uri, artifact_root))
    mlflow.set_experiment(experiment_name)
    os.environ.setdefault("WANDB_MODE", "offline")
    os.environ.setdefault("WANDB_SILENT", "true")
    _set_env("WANDB_DIR", _user_env("WANDB_DIR") or str(workspace))
    return TrackingInfo(uri, artifact_root, workspace / "wandb")


def is_server(uri: str) -> bool:
    """A tracking server (shared by several hosts), as opposed to a store this process opens itself."""
    return uri.startswith(("http://", "https://", "databricks"))


def _artifact_location(uri: str, artifact_root: Path) -> str | None:
    """Where a new experiment keeps its artifacts.

    On a tracking server: None, so the server chooses (its artifact proxy, ``mlflow-artifacts:/``); a
    ``file://`` folder of this host would leave every other host unable to load the model. On a local
    store: the workspace's folder, since MLflow's default is relative to whatever the current folder is.
    """
    return None if is_server(uri) else artifact_root.as_uri()


# Env vars written by us (or by mlflow.set_tracking_uri/set_registry_uri, which export theirs) must not
# be mistaken for the user's choice when another workspace is configured later in the same process.
_SET_BY_US: dict[str, str] = {}


def _user_env(name: str) -> str | None:
    value = getattr(tools(), name.lower())
    return value if value and value != _SET_BY_US.get(name) else None


def _set_env(name: str, value: str) -> None:
    os.environ[name] = value
    _SET_BY_US[name] = value


def tracking_uri(workspace: str | Path) -> str:
    """``MLFLOW_TRACKING_URI`` if the user set it, else the workspace's SQLite store."""
    return _user_env("MLFLOW_TRACKING_URI") or f"sqlite:///{Path(workspace).resolve() / MLFLOW_STORE_FILE}"


def create_local_store(path: Path, artifact_root: Path) -> None:
    """Create the workspace's SQLite store whole or not at all, if it does not exist yet.

    MLflow builds its tables in many steps when it first opens a store; a process killed between them (a
    cycle stopped at the wrong second) would leave a file that every later command fails on ("table ... already
    exists"). So the tables are built in a file of this process's own, linked into place only when complete
    (a link never replaces a store another process made meanwhile).
    """
    if path.exists():
        return
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore  # only the first command of a workspace

    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.name}.partial-{os.getpid()}")
    partial.unlink(missing_ok=True)
    try:
        SqlAlchemyStore(f"sqlite:///{partial}", artifact_root.as_uri()).engine.dispose()
        os.link(partial, path)
    except FileExistsError:
        pass  # another process made it first: theirs is as complete as ours
    finally:
        partial.unlink(missing_ok=True)


def configure_client(workspace: str | Path) -> str:
    """Point MLflow's tracking and registry at the store (for readers such as the API); return the URI."""
    uri = tracking_uri(workspace)
    if not _user_env("MLFLOW_TRACKING_URI"):
        root = Path(workspace).resolve()
        create_local_store(root / MLFLOW_STORE_FILE, root / ARTIFACT_DIR)
    registry_uri = _user_env("MLFLOW_REGISTRY_URI") or uri
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(registry_uri)
    _SET_BY_US.update(MLFLOW_TRACKING_URI=uri, MLFLOW_REGISTRY_URI=registry_uri)
    return uri


def _flat_params(settings: Settings) -> dict[str, Any]:
    # prefixed so they never collide with the Trainer's own parameter names (MLflow forbids changing one)
    return {f"settings.{k}": v for k, v in settings.to_dict().items()}


@contextmanager
def tracked_run(settings: Settings, run_name: str, job_type: str, run_id: str | None = None) -> Iterator[Any]:
    """An MLflow run (new, or ``run_id`` reopened) and, if enabled, a wandb run, for one pipeline step.

    Settings are logged once, to both. Yields the MLflow run; ``wandb.run`` is the wandb run or None.
    """
    targets = report_targets(settings)
    with mlflow.start_run(run_id=run_id, run_name=None if run_id else run_name) as run:
        if run_id is None:
            mlflow.log_params(_flat_params(settings))
        mlflow.set_tag("pipeline.step", job_type)
        wandb_run = _start_wandb(settings, run.info.run_id, run_name, job_type) if "wandb" in targets else None
        try:
            yield run
        finally:
            if wandb_run is not None:
                wandb_run.finish()


def _start_wandb(settings: Settings, mlflow_run_id: str, run_name: str, job_type: str) -> Any:
    import wandb

    run = wandb.init(
        project=tools().wandb_project or settings.experiment_name,
        name=f"{run_name}-{job_type}",
        group=mlflow_run_id,
        job_type=job_type,
        config={**settings.to_dict(), "mlflow_run_id": mlflow_run_id},
        dir=tools().wandb_dir or None,
        reinit="finish_previous",
    )
    mlflow.set_tag("wandb.run_dir", str(Path(run.dir).parent))
    return run


def log_metrics_everywhere(metrics: dict[str, float], step: int | None = None) -> None:
    """Log numeric metrics to the active MLflow run and, if one is open, the wandb run."""
    mlflow.log_metrics(metrics, step=step)
    try:
        import wandb
    except ImportError:  # wandb is optional for a user who tracks with MLflow only
        return
    if wandb.run is not None:
        wandb.run.summary.update(metrics)
        wandb.log(metrics, step=step)


def log_figure(figure: Any, artifact_path: str, run_id: str | None = None) -> None:
    """Save a matplotlib figure as a PNG artifact of ``run_id`` (default: the active run)."""
    if run_id is None:
        mlflow.log_figure(figure, artifact_path)
    else:
        mlflow.MlflowClient().log_figure(run_id, figure, artifact_path)


def describe_store(workspace: str | Path) -> str:
    """Where runs are tracked: the server named by ``MLFLOW_TRACKING_URI`` or the local SQLite store."""
    uri = _user_env("MLFLOW_TRACKING_URI")
    if uri:
        return uri
    workspace = Path(workspace).resolve()
    return f"{workspace / MLFLOW_STORE_FILE} (artifacts in {workspace / ARTIFACT_DIR})"


def ui_command(workspace: str | Path) -> str:
    """The MLflow UI on the workspace's store, with the mlflow installed beside this interpreter (a checkout's
    .venv or an installed package's virtualenv)."""
    mlflow_command = Path(sys.executable).parent / "mlflow"
    return f"{mlflow_command} ui --backend-store-uri {tracking_uri(workspace)} --host 127.0.0.1 --port 5001"


def latest_wandb_run(workspace: str | Path, since: float = 0.0) -> Path | None:
    """The newest offline wandb run folder in the workspace written at or after ``since`` (epoch seconds), if any.

    ``since`` keeps a command that made no run (explore, staleness) from pointing at an older one.
    """
    runs = [p for p in (Path(workspace) / "wandb").glob("offline-run-*") if p.stat().st_mtime >= since]
    return max(runs, key=lambda p: p.stat().st_mtime).resolve() if runs else None


def compare_by_setting(
    experiment_name: str, setting: str, metrics: list[str], preset: str | None = None
) -> pd.DataFrame:
    """Mean and count of ``metrics`` over the experiment's runs, grouped by one setting's value.

    Only runs that have every metric (evaluated runs) count; ``preset`` restricts them to one preset.
    """
    experiment = mlflow.get_experiment_by_name(experiment_name)
    if experiment is None:
        return pd.DataFrame()
    runs = mlflow.search_runs([experiment.experiment_id], output_format="pandas")
    param = f"params.settings.{setting}"
    columns = [f"metrics.{m}" for m in metrics]
    if runs.empty or param not in runs or not set(columns) <= set(runs.columns):
        return pd.DataFrame()
    if preset is not None:
        runs = runs[runs["params.settings.preset"] == preset]
    runs = runs.dropna(subset=columns)
    table = runs.groupby(param)[columns].agg(["mean", "count"])
    table.index.name = setting
    return table
