"""Settings of the process rather than the pipeline: where it works, how many threads, which back-end, its
name among replicas, the tracking and notebook servers it talks to; and the offline defaults every run sets.

Some variables here belong to the tools themselves (``MLFLOW_TRACKING_URI``, ``WANDB_PROJECT``, ...): they keep
their own names, so a user's existing set-up works, and are declared here because the project reads them.
"""

from __future__ import annotations

import os
from typing import ClassVar, Literal, get_args

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from sentiment_lib.settings.base import EnvSettings

# Set (unless the user set them) for every notebook run and the API: no machine here reaches a model hub,
# and wandb syncs only when the user asks.
OFFLINE_ENVIRONMENT = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "WANDB_MODE": "offline",
    "TOKENIZERS_PARALLELISM": "false",
    # progress bars would fill the reports with thousands of carriage-return lines
    "TQDM_DISABLE": "1",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
    # tqdm.auto warns in every kernel that ipywidgets is missing; the bars are disabled anyway
    "PYTHONWARNINGS": "ignore:IProgress not found:Warning",
}
Backend = Literal["onnx-int8", "torch", "openvino"]  # the API's /model answer declares the same type
BACKENDS: tuple[str, ...] = get_args(Backend)


class RuntimeSettings(EnvSettings):
    """This process: its workspace, threads, inference back-end and replica name."""

    model_config = SettingsConfigDict(env_prefix="SENTIMENT_")
    title: ClassVar[str] = "Process settings"

    workspace: str = Field(".", description="the workspace of every command without --workspace")
    threads: int | None = Field(None, ge=1, description="inference threads; unset: every core (shared by workers)")
    backend: Backend = Field(
        "onnx-int8",
        description="the inference back-end: onnx-int8, torch (fp32) or openvino (the openvino extra; bf16 where "
        "the CPU has AMX)",
    )
    replica_id: str = Field("", description="this API process's name in the served log; empty: <host>-<pid>")


class ToolSettings(EnvSettings):
    """Variables of the tools the project drives, under their own names."""

    title: ClassVar[str] = "Tool settings"

    mlflow_tracking_uri: str = Field(
        "", validation_alias="MLFLOW_TRACKING_URI", description="a tracking server; empty: the workspace's SQLite store"
    )
    mlflow_registry_uri: str = Field(
        "", validation_alias="MLFLOW_REGISTRY_URI", description="the model registry; empty: the tracking store"
    )
    wandb_project: str = Field(
        "", validation_alias="WANDB_PROJECT", description="the W&B project; empty: the experiment's name"
    )
    wandb_dir: str = Field("", validation_alias="WANDB_DIR", description="W&B's offline runs; empty: the workspace")
    prometheus_multiproc_dir: str = Field(
        "",
        validation_alias="PROMETHEUS_MULTIPROC_DIR",
        description="where API workers share their counters; empty: a new folder per run",
    )
    jupyter_token: str = Field(
        "", validation_alias="JUPYTER_TOKEN", repr=False, description="make lab's token; empty: a new random one"
    )


def runtime() -> RuntimeSettings:
    """The process's settings, from the environment now (tests and workers change it)."""
    return RuntimeSettings.from_environment()


def workspace_root() -> str:
    """``SENTIMENT_WORKSPACE`` alone (other process settings, even invalid ones, do not stop a command from
    finding its workspace; they are judged where they are used)."""
    return RuntimeSettings.environment_values().get("workspace", ".")


def tools() -> ToolSettings:
    return ToolSettings.from_environment()


def apply_offline_defaults() -> None:
    """Set each variable of :data:`OFFLINE_ENVIRONMENT` that the user has not set."""
    for key, value in OFFLINE_ENVIRONMENT.items():
        os.environ.setdefault(key, value)
