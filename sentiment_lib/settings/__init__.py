"""Every setting of the project, declared once: its type, default, bounds, help and environment variable.

- :mod:`~sentiment_lib.settings.pipeline`: data, training, evaluation, staleness, gate, loop (``SENTIMENT_*``)
- :mod:`~sentiment_lib.settings.serving`: the API (``SENTIMENT_SERVE_*``, ``ADMIN_TOKEN``, ``METRICS_TOKEN``)
- :mod:`~sentiment_lib.settings.alerting`: email and webhook alerts (``ALERT_*``)
- :mod:`~sentiment_lib.settings.runtime`: the process and the tools it drives (workspace, threads, MLflow, W&B)
- :mod:`~sentiment_lib.settings.labeling`: the Label Studio server the labelling queue goes to (``LABEL_STUDIO_*``)

No other module reads ``os.environ`` for a setting (tests/project/test_environment_reads.py checks);
:mod:`~sentiment_lib.settings.reference` writes the table of them all (docs/configuration.md).
"""

from sentiment_lib.settings.alerting import AlertSettings
from sentiment_lib.settings.base import EnvSettings, variable_name
from sentiment_lib.settings.labeling import LabelStudioSettings
from sentiment_lib.settings.pipeline import (
    CHALLENGER,
    CHAMPION,
    EVALUATION_SETS,
    PACKAGED_MODEL,
    PRESETS,
    TRUNCATIONS,
    GateThresholds,
    Settings,
    coerce,
    field_types,
    report_targets,
    resolve_settings,
    settings_for,
    settings_from_parameters,
)
from sentiment_lib.settings.runtime import (
    OFFLINE_ENVIRONMENT,
    RuntimeSettings,
    ToolSettings,
    apply_offline_defaults,
    runtime,
    tools,
)
from sentiment_lib.settings.serving import ServeConfig

MODELS: tuple[type[EnvSettings], ...] = (
    Settings,
    ServeConfig,
    AlertSettings,
    RuntimeSettings,
    ToolSettings,
    LabelStudioSettings,
)

__all__ = [
    "CHALLENGER",
    "CHAMPION",
    "EVALUATION_SETS",
    "MODELS",
    "OFFLINE_ENVIRONMENT",
    "PACKAGED_MODEL",
    "PRESETS",
    "TRUNCATIONS",
    "AlertSettings",
    "EnvSettings",
    "GateThresholds",
    "LabelStudioSettings",
    "RuntimeSettings",
    "ServeConfig",
    "Settings",
    "ToolSettings",
    "apply_offline_defaults",
    "coerce",
    "field_types",
    "report_targets",
    "resolve_settings",
    "runtime",
    "settings_for",
    "settings_from_parameters",
    "tools",
    "variable_name",
]
