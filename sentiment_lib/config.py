"""One typed settings object for the whole pipeline, with presets, env-var and flag overrides.

Resolution order, later wins: the preset's values, then ``SENTIMENT_<FIELD>`` environment variables,
then explicit overrides (``runner.py -p name value`` or notebook parameters).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from sentiment_lib.errors import ConfigError

ENV_PREFIX = "SENTIMENT_"
TRUNCATIONS = ("head", "head_tail")
PACKAGED_MODEL = "all-MiniLM-L6-v2"
# Registry aliases: evaluation decides about @challenger; the API, batch and staleness use @champion.
CHAMPION = "champion"
CHALLENGER = "challenger"
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


@dataclass(frozen=True)
class Settings:
    """Every knob of the pipeline. The defaults are the ``quick`` preset."""

    preset: str = "quick"
    # data
    raw_path: str = "data/raw/sentiment_analysis.csv"
    processed_dir: str = "data/processed"
    val_fraction: float = 0.1
    test_fraction: float = 0.1
    split_seed: int = 42
    max_train_samples: int = 20000  # 0 = every training row
    # weight of each source of training rows (sst2, reviews, airline) or domain (hotels:2), see data/mix.py
    mix: str = "sst2:1,reviews:3"
    # in each domain, at most this many rows of the majority label per minority row (reviews are mostly praise;
    # see data/mix.py balance_labels); 0 = every row as it comes
    balance_labels: float = 2.0
    augment: bool = False
    augment_copies: int = 1
    # template sentences for weak behavioural capabilities (sentiment_lib/data/capability_augment.py); the
    # default was chosen on the customer reviews (README "Customer reviews"); empty = none
    augment_capabilities: str = "outcomes,negated_negative,contrast"
    augment_capability_rows: int = 3000
    # copies of training reviews that name a person, with an identity term inserted and the label kept
    # (sentiment_lib/data/identity_augment.py): answers must not depend on race, religion and the like; 0 = off
    identity_augment_rows: int = 2000
    # model and training
    model_name_or_path: str = PACKAGED_MODEL
    max_length: int = 64
    # what of a review longer than max_length tokens the model reads: its start (head) or its start and end
    # (head_tail: a quarter head, three quarters tail; reviews often conclude at the end)
    truncation: str = "head_tail"
    learning_rate: float = 1e-4
    num_epochs: float = 1.0
    batch_size: int = 32
    eval_batch_size: int = 128
    eval_steps: int = 125
    max_eval_samples: int = 2000  # 0 = the whole validation split
    early_stopping_patience: int = 3
    weight_decay: float = 0.01
    warmup_ratio: float = 0.06
    layer_decay: float = 1.0  # learning rate x this per layer below the classifier; 1 = one rate for all
    label_smoothing: float = 0.0
    average_from: float = 0.0  # average the weights over the last (1 - this) of the steps; 0 = off
    average_every: int = 100  # steps between the weight samples averaged
    distill_teachers: int = 0  # models trained first (seeds seed+1, ...) whose averaged logits teach the final one
    distill_weight: float = 0.5  # share of the teachers' soft targets in the loss; the rest is the labels
    distill_temperature: float = 2.0  # softens both distributions in the distillation term
    logging_steps: int = 25
    seed: int = 42
    checkpoint_dir: str = "models/checkpoints"
    # evaluation
    sst2_test_path: str = "../shared/data/sst2/test.tsv"
    airline_test_path: str = "../shared/data/airline/Tweets.csv"  # off-domain robustness check
    behaviour_cases: int = 400  # behavioural suite: cases per capability (sentiment_lib/behaviour); 0 = off
    # staleness
    feedback_path: str = "data/feedback/feedback.csv"
    served_log_dir: str = "logs/served"
    served_log_retention_days: int = 30  # the API deletes served-log days older than this
    # disk the served log may take: a day's bytes per API process (the last tenth sampled, then texts only
    # counted) and the characters logged of one text (the drift checks need no more)
    served_log_max_mb_per_day: float = 100.0
    served_log_max_text_chars: int = 2000
    incoming_settle_seconds: float = 0.0  # data/incoming: skip files changed more recently (0: rename protocol only)
    staleness_window: int = 500  # most recent labelled feedback rows judged
    min_feedback_rows: int = 100  # fewer labelled rows than this: performance is not judged
    accuracy_tolerance: float = 0.03  # accuracy may fall this far below the baseline
    max_age_days: float = 30.0
    drift_sample: int = 300  # texts per side in the drift test
    # every cycle is a new test: 99 permutations and alpha 0.01 keep false drift alarms to 1 in 100 cycles
    drift_permutations: int = 99
    drift_alpha: float = 0.01
    feedback_holdout_fraction: float = 0.2  # share of feedback (by a hash of the text) never trained on
    feedback_weight: int = 1  # each feedback training row counts this many times (repeated) in a retrain
    # promotion gate
    gate_margin: float = 0.005  # the challenger must be this much more accurate ...
    gate_alpha: float = 0.05  # ... with a McNemar p-value below this
    gate_floor: float = 0.80  # or the champion below this absolute accuracy and the challenger above
    gate_max_regression: float = 0.02  # and never lose more than this on the base test split
    gate_max_capability_drop: float = 0.05  # nor more than this pass rate on any capability of the suite
    gate_max_identity_drop: float = 0.01  # nor more than this on an identity invariance group of the suite
    # the runner's loop
    cycle_minutes: float = 60.0  # runner.py loop: minutes between cycles
    min_new_rows: int = 200  # labelled feedback rows new since the last retrain before retraining
    max_retrains_per_day: int = 2
    step_timeout_seconds: int = 7200  # per notebook cell
    step_retries: int = 1  # a failed notebook is run once more before the cycle gives up
    alert_cooldown_hours: float = 6.0  # the same alert (reason, model version) is not sent again sooner
    # a cycle's whole time for sending alerts (lookups, attempts, back-off); past it alerts go to the outbox
    alert_budget_seconds: float = 120.0
    # tracking and registry
    experiment_name: str = "sentiment-analysis"
    registered_model_name: str = "sentiment-classifier"
    report_to: str = "mlflow,wandb"

    def __post_init__(self) -> None:
        _validate(self)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def replace(self, **changes: Any) -> Settings:
        """Return a copy with ``changes`` applied (validated, names checked)."""
        return dataclasses.replace(self, **coerce_values(changes))


PRESETS: dict[str, dict[str, Any]] = {
    "smoke": dict(
        max_train_samples=320,
        max_length=32,
        learning_rate=1e-4,
        num_epochs=4.0,
        batch_size=16,
        eval_batch_size=64,
        eval_steps=20,
        max_eval_samples=200,
        early_stopping_patience=10,
        logging_steps=5,
        min_feedback_rows=20,
        drift_sample=100,
        drift_permutations=49,
        drift_alpha=0.02,
        min_new_rows=50,
        step_timeout_seconds=600,
        behaviour_cases=30,
        augment_capability_rows=30,
        identity_augment_rows=20,
    ),
    "quick": {},
    # every training row, two epochs at 1e-4 (three on SST-2 alone, README "Accuracy"; the reviews make an epoch
    # about twice as long), the weights of the second half of the steps averaged (kept only when validation
    # prefers them)
    "full": dict(
        max_train_samples=0,
        mix="sst2:1,reviews:1",  # every row once per epoch: repeating the reviews would double the time
        num_epochs=2.0,
        eval_steps=1000,
        max_eval_samples=0,
        average_from=0.5,
    ),
}


def _unknown_capabilities(names: str) -> list[str]:
    from sentiment_lib.data.capability_augment import GENERATORS  # here: the data package imports this module

    unknown = sorted({n.strip() for n in names.split(",") if n.strip()} - set(GENERATORS))
    return [f"augment_capabilities: unknown {unknown}; known: {', '.join(GENERATORS)}"] if unknown else []


def _bad_mix(text: str) -> list[str]:
    from sentiment_lib.data.mix import parse_mix  # here: the data package imports this module

    try:
        parse_mix(text)
    except ConfigError as err:
        return [str(err)]
    return []


def _validate(s: Settings) -> None:
    problems = []
    if s.preset not in PRESETS:
        problems.append(f"preset must be one of {sorted(PRESETS)}, got {s.preset!r}")
    if not 0 < s.val_fraction < 0.5 or not 0 < s.test_fraction < 0.5:
        problems.append("val_fraction and test_fraction must each be between 0 and 0.5")
    if not 0 < s.feedback_holdout_fraction < 0.5:
        problems.append(f"feedback_holdout_fraction must be between 0 and 0.5, got {s.feedback_holdout_fraction}")
    if s.served_log_retention_days < 1:
        problems.append(f"served_log_retention_days must be >= 1, got {s.served_log_retention_days}")
    if s.served_log_max_mb_per_day < 0 or s.served_log_max_text_chars < 0:
        problems.append("served_log_max_mb_per_day and served_log_max_text_chars must be 0 (no limit) or more")
    if s.cycle_minutes <= 0 or s.step_timeout_seconds <= 0:
        problems.append("cycle_minutes and step_timeout_seconds must be > 0")
    positives = [
        "max_length",
        "batch_size",
        "eval_batch_size",
        "eval_steps",
        "logging_steps",
        "augment_copies",
        "augment_capability_rows",
        "feedback_weight",
        "average_every",
        "distill_temperature",
    ]
    problems += [f"{name} must be > 0, got {getattr(s, name)}" for name in positives if getattr(s, name) <= 0]
    non_negatives = [
        "max_train_samples",
        "max_eval_samples",
        "early_stopping_patience",
        "weight_decay",
        "min_feedback_rows",
        "accuracy_tolerance",
        "max_age_days",
        "gate_max_regression",
        "gate_max_capability_drop",
        "gate_max_identity_drop",
        "identity_augment_rows",
        "balance_labels",
        "behaviour_cases",
        "min_new_rows",
        "max_retrains_per_day",
        "incoming_settle_seconds",
        "step_retries",
        "alert_cooldown_hours",
        "distill_teachers",
    ]
    problems += [f"{name} must be >= 0" for name in non_negatives if getattr(s, name) < 0]
    if not 0 < s.learning_rate < 1:
        problems.append(f"learning_rate must be between 0 and 1, got {s.learning_rate}")
    if s.num_epochs <= 0:
        problems.append(f"num_epochs must be > 0, got {s.num_epochs}")
    if s.alert_budget_seconds <= 0:
        problems.append(f"alert_budget_seconds must be > 0, got {s.alert_budget_seconds}")
    if not 0 < s.drift_alpha < 1:
        problems.append(f"drift_alpha must be between 0 and 1, got {s.drift_alpha}")
    if not 0 <= s.average_from < 1 or not 0 <= s.label_smoothing < 0.5:
        problems.append("average_from must be in [0, 1) and label_smoothing in [0, 0.5)")
    problems += _unknown_capabilities(s.augment_capabilities)
    problems += _bad_mix(s.mix)
    if s.truncation not in TRUNCATIONS:
        problems.append(f"truncation must be one of {list(TRUNCATIONS)}, got {s.truncation!r}")
    if not 0 < s.layer_decay <= 1:
        problems.append(f"layer_decay must be in (0, 1], got {s.layer_decay}")
    if not 0 <= s.distill_weight <= 1:
        problems.append(f"distill_weight must be in [0, 1], got {s.distill_weight}")
    if not 0 <= s.warmup_ratio < 1:
        problems.append(f"warmup_ratio must be in [0, 1), got {s.warmup_ratio}")
    unknown = set(report_targets(s)) - {"mlflow", "wandb"}
    if unknown:
        problems.append(f"report_to may name mlflow and wandb only, got {sorted(unknown)}")
    if problems:
        raise ConfigError("Invalid settings: " + "; ".join(problems))


def report_targets(s: Settings) -> list[str]:
    """The tracking back-ends named in ``report_to`` (``""`` or ``none`` means no tracking)."""
    names = [n.strip() for n in s.report_to.split(",") if n.strip()]
    return [] if names == ["none"] else names


def field_types() -> dict[str, type]:
    """Each setting's name and its Python type."""
    hints = {"str": str, "int": int, "float": float, "bool": bool}
    return {f.name: hints[f.type] if isinstance(f.type, str) else f.type for f in fields(Settings)}


def coerce(name: str, value: Any) -> Any:
    """Convert ``value`` (often a string from a flag or env var) to the type of setting ``name``.

    Raises:
        ConfigError: the name is not a setting or the value does not convert.
    """
    types = field_types()
    if name not in types:
        raise ConfigError(f"Unknown setting {name!r}. Known settings: {', '.join(sorted(types))}")
    wanted = types[name]
    if isinstance(value, wanted) and not (wanted is int and isinstance(value, bool)):
        return value
    if wanted is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        return parse_value(name, value, wanted)
    raise ConfigError(f"Setting {name!r} must be {wanted.__name__}, got {value!r}")


def parse_value(name: str, text: str, wanted: type) -> Any:
    """Convert text from a flag or env var ``name`` to ``wanted`` (bool, int, float or str).

    Raises:
        ConfigError: the text does not convert; the message names ``name``.
    """
    if wanted is bool:
        lowered = text.strip().lower()
        if lowered in {"1", "true", "yes", "on"}:
            return True
        if lowered in {"0", "false", "no", "off"}:
            return False
        raise ConfigError(f"Setting {name!r} must be true or false, got {text!r}")
    try:
        return wanted(text)
    except ValueError:
        raise ConfigError(f"Setting {name!r} must be {wanted.__name__}, got {text!r}") from None


def coerce_values(values: Mapping[str, Any]) -> dict[str, Any]:
    return {name: coerce(name, value) for name, value in values.items()}


def env_overrides(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Settings named by ``SENTIMENT_<FIELD>`` environment variables, converted to their types."""
    environ = os.environ if environ is None else environ
    names = field_types()
    found = {}
    for key, value in environ.items():
        if key.startswith(ENV_PREFIX) and key[len(ENV_PREFIX) :].lower() in names:
            found[key[len(ENV_PREFIX) :].lower()] = value
    return coerce_values(found)


def resolve_settings(
    preset: str | None = None,
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Build validated settings: preset, then env vars, then ``overrides``.

    Raises:
        ConfigError: unknown preset, unknown setting name, or an invalid value.
    """
    from_env = env_overrides(environ)
    name = preset or from_env.pop("preset", None) or "quick"
    from_env.pop("preset", None)
    if name not in PRESETS:
        raise ConfigError(f"Unknown preset {name!r}. Choose one of: {', '.join(PRESETS)}")
    values = {"preset": name, **PRESETS[name], **from_env, **coerce_values(overrides or {})}
    return Settings(**values)


def settings_for(preset: str | None, parameters: Mapping[str, Any]) -> Settings:
    """:func:`resolve_settings` with those of ``parameters`` that name a setting; the others (notebook-only
    parameters such as ``cycle`` or ``promote``) are left out.

    Raises:
        ConfigError: unknown preset or an invalid value.
    """
    names = field_types()
    return resolve_settings(preset, {name: value for name, value in parameters.items() if name in names})


def settings_from_parameters(parameters: Mapping[str, Any]) -> Settings:
    """The settings a notebook runs with: its ``preset`` parameter, then env vars, then every parameter that
    names a setting (pass ``globals()`` of the notebook; other names are ignored).

    Raises:
        ConfigError: unknown preset or an invalid value.
    """
    return settings_for(parameters.get("preset"), parameters)


def apply_offline_defaults() -> None:
    """Set each variable of :data:`OFFLINE_ENVIRONMENT` that the user has not set."""
    for key, value in OFFLINE_ENVIRONMENT.items():
        os.environ.setdefault(key, value)
