"""Every path the project reads or writes, and the names of its model and experiment, in one place.

A :class:`Workspace` is a root folder plus the :class:`~sentiment_lib.settings.Settings` in force: the paths
that settings name (training CSV, splits, feedback store, served log, checkpoints, test sets) are resolved
against the root, and the rest of the layout (incoming feedback, archive, reports, state, MLflow store) is
fixed here. The API, the loop, ``runner.py``, the benchmarks and the notebooks all build one, so a setting
such as ``feedback_path`` or ``registered_model_name`` means the same thing to each of them.
"""

from __future__ import annotations

from pathlib import Path

from sentiment_lib.settings import Settings, resolve_settings, settings_from_parameters
from sentiment_lib.settings.runtime import workspace_root

# a checkout's root, where app.py lives (in an installed wheel this folder is site-packages: nothing looks there)
REPO_ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = Path(__file__).resolve().parent / "pipeline_notebooks"  # package data; a checkout links notebooks/ to it
MLFLOW_STORE_FILE = "mlflow.db"
ENV_FILE = ".env"  # secrets (SMTP password, webhook URL, wandb key), git-ignored; read by runner.py and app.py
ARTIFACT_DIR = "mlartifacts"
# files under reports/
INDEX_FILE = "index.html"
STATUS_FILE = "status.json"  # per cycle: how each notebook step went
CYCLE_FILE = "cycle.json"  # per cycle: what a loop cycle saw and did
VERDICT_FILE = "verdict.json"  # per cycle: the staleness verdict
EVENTS_FILE = "events.csv"  # retrains, promotions, rejections
HISTORY_FILE = "staleness_history.csv"


def default_root() -> str:
    """The workspace a command works on unless ``--workspace`` says otherwise: $SENTIMENT_WORKSPACE, else the
    current folder (never the install location: an installed package's folder is not the operator's)."""
    return workspace_root()


class Workspace:
    """The folders and files of one installation of the pipeline, all under ``root``."""

    def __init__(self, root: str | Path = ".", settings: Settings | None = None):
        self.root = Path(root).resolve()
        self.settings = settings if settings is not None else resolve_settings()
        s = self.settings
        # named by settings
        self.raw_data = self.path(s.raw_path)
        self.processed = self.path(s.processed_dir)
        self.checkpoints = self.path(s.checkpoint_dir)
        self.feedback_store = self.path(s.feedback_path)
        self.served_log = self.path(s.served_log_dir)
        self.shadow_log = self.served_log / "shadow"  # the @challenger's answers beside the champion's
        self.sst2_test = self.path(s.sst2_test_path)
        self.airline_test = self.path(s.airline_test_path)
        # the fixed layout
        self.incoming = self.root / "data" / "incoming"
        self.to_label = self.root / "data" / "to_label"  # the labelling queue, one CSV per cycle
        self.archive = self.root / "data" / "archive"
        self.quarantine = self.root / "data" / "quarantine"
        self.models = self.root / "models"
        self.reports = self.root / "reports"
        self.state = self.root / "state"
        self.loop_state = self.state / "loop.json"
        self.heartbeat = self.state / "heartbeat.json"  # the loop's last cycle, for /metrics
        self.alert_state = self.state / "alerts.json"
        self.replay_state = self.state / "replay.json"
        self.label_studio_state = self.state / "label_studio.json"  # what runner.py label pull took
        self.drift_state = self.state / "drift.json"  # an acknowledged shift, a rebaselined reference
        self.label_queue_state = self.state / "label_queue.json"  # the newest served text a queue considered
        self.drift_references = self.root / "data" / "reference"
        self.cycle_lock = self.state / "cycle.lock"
        self.outbox = self.root / "outbox"
        self.logs = self.root / "logs"
        self.runner_log = self.logs / "runner.log"
        self.app_log = self.logs / "app.log"
        self.app_stderr = self.logs / "app.stderr"
        self.app_pid = self.logs / "app.pid"
        self.env_file = self.root / ENV_FILE
        self.mlflow_store = self.root / MLFLOW_STORE_FILE
        self.artifacts = self.root / ARTIFACT_DIR
        self.wandb = self.root / "wandb"
        self.staleness_history = self.reports / HISTORY_FILE
        self.index = self.reports / INDEX_FILE

    def __repr__(self) -> str:
        return f"Workspace({str(self.root)!r}, preset={self.settings.preset!r})"

    def path(self, relative: str | Path) -> Path:
        """``relative`` under the root (an absolute path stays as it is)."""
        return self.root / relative

    @property
    def registered_model(self) -> str:
        return self.settings.registered_model_name

    @property
    def experiment(self) -> str:
        return self.settings.experiment_name

    def cycle_dir(self, cycle: str) -> Path:
        return self.reports / cycle

    def verdict(self, cycle: str) -> Path:
        return self.cycle_dir(cycle) / VERDICT_FILE

    def report(self, cycle: str, notebook: str) -> Path:
        """The HTML report of one step of a cycle (``notebook`` with or without its suffix)."""
        return self.cycle_dir(cycle) / Path(notebook).with_suffix(".html").name

    def model_dir(self, run_id: str) -> Path:
        """Where a training run saves its model before registration (removed once registered)."""
        return self.models / run_id

    @classmethod
    def from_parameters(cls, parameters: dict) -> Workspace:
        """The workspace a notebook runs in, with its parameters' settings: the folder the runner starts it in,
        or the checkout when Jupyter starts it beside the notebooks (a kernel's folder is its notebook's)."""
        here = Path.cwd().resolve()
        return cls(REPO_ROOT if here == NOTEBOOK_DIR else here, settings_from_parameters(parameters))
