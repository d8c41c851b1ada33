"""The trained model as an MLflow pyfunc model, its registration, and the ``champion`` alias."""

from __future__ import annotations

import logging
import shutil
import tempfile
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from importlib.metadata import version
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import mlflow
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.models import Model
from mlflow.store.artifact.models_artifact_repo import ModelsArtifactRepository
from mlflow.tracking import MlflowClient

from sentiment_lib.clock import as_text, parse_moment
from sentiment_lib.data.schema import TEXT_COLUMN
from sentiment_lib.errors import ModelError, RegistryUnavailableError
from sentiment_lib.inference import onnx_export
from sentiment_lib.settings import CHALLENGER, CHAMPION

log = logging.getLogger(__name__)

MODEL_ARTIFACT = "model"
# when the version's training data was cut, on the loop's clock (simulated in a replay); see trained_at()
TRAINED_AT_TAG = "trained_at"
# the version's architecture (see training/workflow.py architecture_tags): its transformer depth and, for a
# distilled student, the folder of the full-depth teacher it was cut from
ENCODER_LAYERS_TAG = "encoder_layers"
TEACHER_DIR_TAG = "teacher_dir"
PYFUNC_CODE = Path(__file__).with_name("pyfunc_model.py")
PACKAGE_DIR = Path(__file__).resolve().parents[1]  # sentiment_lib, logged with every model (code_paths)
# What loading the model imports on its default (int8 ONNX) path, all installable from PyPI; with the logged
# copy of sentiment_lib, a new virtualenv without this repository loads it. torch and transformers are for
# SENTIMENT_BACKEND=torch only (and this machine's torch build, 2.13.0+cpu, is not on PyPI under that name).
_RUNTIME_PACKAGES = ("mlflow", "pandas", "numpy", "scipy", "tokenizers", "onnxruntime", "pydantic-settings")


def _pip_requirements() -> list[str]:
    # Listed explicitly: MLflow's inference would load and run the model in a subprocess to guess them.
    return [f"{name}=={version(name)}" for name in _RUNTIME_PACKAGES]


def _package_copy(scratch: Path) -> Path:
    """A copy of sentiment_lib's Python for ``code_paths``: a model needs no bytecode caches, notebooks or
    templates."""
    skip = shutil.ignore_patterns("__pycache__", "*.ipynb", "*.j2")
    return Path(shutil.copytree(PACKAGE_DIR, scratch / PACKAGE_DIR.name, ignore=skip))


def log_and_register(
    model_dir: str | Path,
    registered_name: str,
    calibration_texts: list[str],
    keep_local: bool = False,
    trained_at: datetime | None = None,
) -> Any:
    """Log ``model_dir`` as a pyfunc model in the active run and register it as a new version.

    The new version gets the ``challenger`` alias until evaluation decides about it. The local folder
    is removed afterwards unless ``keep_local``: the MLflow artifact is the copy that counts.
    ``calibration_texts`` calibrate the int8 model logged beside the weights. ``trained_at`` (default: now)
    is tagged as :data:`TRAINED_AT_TAG`.

    Raises:
        ModelError: no active MLflow run.
    """
    if mlflow.active_run() is None:
        raise ModelError("log_and_register needs an active MLflow run")
    # exported once here so that every loader of this version (API, batch, evaluation) gets the fast path
    onnx_export.export_int8(model_dir, calibration_texts)
    with tempfile.TemporaryDirectory(prefix="sentiment-code-") as scratch:
        info = mlflow.pyfunc.log_model(
            name=MODEL_ARTIFACT,
            python_model=str(PYFUNC_CODE),
            artifacts={"model_dir": str(model_dir)},
            code_paths=[str(_package_copy(Path(scratch)))],
            input_example=pd.DataFrame({TEXT_COLUMN: ["a wonderful film", "a dull mess"]}),
            pip_requirements=_pip_requirements(),
            registered_model_name=registered_name,
        )
    client = MlflowClient()
    client.set_registered_model_alias(registered_name, CHALLENGER, info.registered_model_version)
    moment = as_text(trained_at or datetime.now(UTC))
    client.set_model_version_tag(registered_name, str(info.registered_model_version), TRAINED_AT_TAG, moment)
    if not keep_local:
        shutil.rmtree(model_dir, ignore_errors=True)
    return client.get_model_version(registered_name, str(info.registered_model_version))


def model_uri(registered_name: str, alias: str) -> str:
    return f"models:/{registered_name}@{alias}"


def version_for_alias(registered_name: str, alias: str) -> Any | None:
    """The model version behind ``alias``, or None if the alias (or the model) does not exist.

    Raises:
        RegistryUnavailableError: any other failure to read the registry; it never means "no version".
    """
    try:
        return MlflowClient().get_model_version_by_alias(registered_name, alias)
    except MlflowException as err:
        if _does_not_exist(err):
            return None
        raise RegistryUnavailableError(f"The model registry cannot be read ({_short(err)})") from err
    except Exception as err:  # the store's own errors (SQLAlchemy, a corrupt file, a broken connection)
        raise RegistryUnavailableError(f"The model registry cannot be read ({_short(err)})") from err


def version_runs(registered_name: str) -> dict[str, str]:
    """Every version of ``registered_name`` with the id of the run that logged it ({} if none)."""
    found = MlflowClient().search_model_versions(f"name = '{registered_name}'")
    return {str(v.version): str(v.run_id) for v in found}


def newest_version(registered_name: str, default: str = "0") -> str:
    """The highest version number of ``registered_name`` (``default`` when it has none)."""
    return max(version_runs(registered_name), key=int, default=default)


def version_tags(registered_name: str, version: str) -> dict[str, str]:
    return dict(MlflowClient().get_model_version(registered_name, version).tags)


def versions_tagged(registered_name: str, key: str, value: str) -> list[str]:
    """The versions of ``registered_name`` whose tag ``key`` is ``value``."""
    found = MlflowClient().search_model_versions(f"name = '{registered_name}'")
    return sorted((str(v.version) for v in found if v.tags.get(key) == value), key=int)


def _does_not_exist(err: MlflowException) -> bool:
    # a missing model is RESOURCE_DOES_NOT_EXIST; a missing alias of an existing model, INVALID_PARAMETER_VALUE
    missing_alias = err.error_code == "INVALID_PARAMETER_VALUE" and "alias" in str(err) and "not found" in str(err)
    return err.error_code == "RESOURCE_DOES_NOT_EXIST" or missing_alias


def _short(err: Exception) -> str:
    return f"{type(err).__name__}: {str(err).splitlines()[0][:300]}" if str(err) else type(err).__name__


def promote(registered_name: str, version: str, reason: str) -> None:
    """Move the ``champion`` alias to ``version`` and record why on the version."""
    client = MlflowClient()
    client.set_registered_model_alias(registered_name, CHAMPION, version)
    client.set_model_version_tag(registered_name, version, "promotion.reason", reason)
    log.info("Version %s of %s is now @%s (%s)", version, registered_name, CHAMPION, reason)


def promote_by_hand(registered_name: str, version: str, reason: str) -> Any | None:
    """An operator's promotion (a rollback to a good version, say): ``version`` becomes ``@champion`` whatever the
    gate said, with ``reason`` recorded on it and on the version it replaces. Returns the replaced version.

    Raises:
        ModelError: no such version (the message lists the versions there are), or it is already champion.
    """
    versions = version_runs(registered_name)
    if version not in versions:
        known = ", ".join(sorted(versions, key=int)) or "none"
        raise ModelError(f"{registered_name!r} has no version {version!r}; its versions: {known}")
    previous = version_for_alias(registered_name, CHAMPION)
    if previous is not None and str(previous.version) == version:
        raise ModelError(f"Version {version} of {registered_name!r} is already @{CHAMPION}")
    promote(registered_name, version, f"operator: {reason}")
    if previous is not None:
        tag_version(registered_name, str(previous.version), {"demoted.reason": f"operator: {reason}"})
    return previous


def tag_version(registered_name: str, version: str, tags: dict[str, Any]) -> None:
    client = MlflowClient()
    for key, value in tags.items():
        client.set_model_version_tag(registered_name, version, key, str(value))


def require_version(registered_name: str, alias: str) -> Any:
    """The model version behind ``alias``.

    Raises:
        ModelError: no such alias; the message says how to create it.
    """
    found = version_for_alias(registered_name, alias)
    if found is None:
        raise ModelError(f"No version of {registered_name!r} has alias @{alias}: run `python runner.py train` first")
    return found


def resolve_uri(registered_name: str, alias: str | None = None, version: str | None = None) -> str:
    """``models:/<name>@<alias>`` (checked to exist; the default alias is champion) or ``models:/<name>/<version>``.

    Raises:
        ModelError: the alias does not exist.
    """
    if version is not None:
        return f"models:/{registered_name}/{version}"
    require_version(registered_name, alias or CHAMPION)
    return model_uri(registered_name, alias or CHAMPION)


def load_served_model(registered_name: str, alias: str | None = None, version: str | None = None) -> Any:
    """Load ``models:/<name>@<alias>`` (or ``models:/<name>/<version>``) through MLflow's pyfunc loader.

    Returns our model object: ``predictor`` (the default back-end) and ``model_dir`` (the HF files).

    Raises:
        ModelError: the alias or version does not exist, or the model does not load.
    """
    uri = resolve_uri(registered_name, alias, version)
    # A store on this disk is read in place. From a remote one (a tracking server), MLflow would download into
    # a temporary folder it never removes: a server swapping versions, or a runner checking its champion each
    # cycle, would leave a model's size behind every time. So the copy lives as long as the model object
    # whose model_dir names it; the predictor holds what it needs in memory.
    folder = None
    try:
        if not _stored_here(uri):
            folder = tempfile.mkdtemp(prefix="sentiment-model-")
        loaded = mlflow.pyfunc.load_model(uri, dst_path=folder)
    except BaseException as err:  # whatever stops the load (a full disk too), the partial copy goes
        if folder:
            shutil.rmtree(folder, ignore_errors=True)
        if isinstance(err, MlflowException):
            raise ModelError(f"Cannot load {uri}: {err}") from None
        raise
    model = loaded.unwrap_python_model()
    if folder:
        weakref.finalize(model, shutil.rmtree, folder, True)
    return model


def _stored_here(uri: str) -> bool:
    """Whether the artifacts of the model at ``uri`` are files on this machine."""
    return urlparse(ModelsArtifactRepository.get_underlying_uri(uri)).scheme in ("", "file")


@dataclass
class Champion:
    """The champion a challenger is measured against, loaded on first use: the behavioural suite and the gate
    share one copy instead of loading it twice."""

    registered_name: str
    version: str

    @cached_property
    def predictor(self) -> Any:
        return load_served_model(self.registered_name, version=self.version).predictor


def champion_against(registered_name: str, challenger_version: str) -> Champion | None:
    """The current champion, or None when there is none or it is ``challenger_version`` itself."""
    champion = version_for_alias(registered_name, CHAMPION)
    if champion is None or str(champion.version) == challenger_version:
        return None
    return Champion(registered_name, str(champion.version))


def download_model_files(uri: str, destination: str | Path) -> Path:
    """Download the logged model at ``uri`` into ``destination``; return its model folder (HF files and the
    int8 ONNX model), for a process that predicts without MLflow's loader (a Spark worker).

    Raises:
        ModelError: the model cannot be downloaded, or it was not logged by :func:`log_and_register`.
    """
    try:
        local = Path(mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=str(destination)))
        artifacts = Model.load(str(local)).flavors["python_function"].get("artifacts") or {}
    except MlflowException as err:
        raise ModelError(f"Cannot download {uri}: {err}") from None
    if "model_dir" not in artifacts:
        raise ModelError(f"{uri} has no model_dir artifact: it was not logged by this project")
    return local / artifacts["model_dir"]["path"]


def gate_outcome(tags: Mapping[str, str], prefix: str = "gate.") -> str:
    """``promoted``, ``held`` (better offline, waiting in the shadow for live texts: ``gate.judge_held_challenger``)
    or ``rejected``, from a version's gate tags (``prefix`` "" for tags read without it)."""
    if tags.get(f"{prefix}promote") == "true":
        return "promoted"
    return "held" if tags.get(f"{prefix}held") == "true" else "rejected"


def gate_tags(tags: Mapping[str, str]) -> dict[str, str]:
    """A version's gate tags without their ``gate.`` prefix (what reports and emails show)."""
    return {key.removeprefix("gate."): value for key, value in tags.items() if key.startswith("gate.")}


def baseline_accuracy(version: Any) -> float:
    """The accuracy a version reached on its held-out test split at evaluation (its ``test_accuracy`` tag).

    Raises:
        ModelError: the version was never evaluated.
    """
    value = version.tags.get("test_accuracy")
    if value is None:
        raise ModelError(f"Version {version.version} has no test_accuracy tag: run `python runner.py evaluate` first")
    return float(value)


def registered_at(version: Any) -> datetime:
    """When the registry created the version, by the wall clock of the process that registered it."""
    return datetime.fromtimestamp(version.creation_timestamp / 1000, UTC)


def trained_at(version: Any) -> datetime:
    """When the version's training data was cut, on the loop's clock: its ``trained_at`` tag, else (a
    version registered before the tag existed) its registration time."""
    tag = version.tags.get(TRAINED_AT_TAG)
    return parse_moment(tag, TRAINED_AT_TAG) if tag else registered_at(version)
