"""The pipeline's settings: every knob of data, training, evaluation, staleness, the gate and the loop.

Resolution order, later wins: the field's default (the ``quick`` preset), the preset's values, then
``SENTIMENT_<FIELD>`` environment variables, then explicit overrides (``runner.py -p name value`` or
notebook parameters).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator
from pydantic_settings import SettingsConfigDict

from sentiment_lib.errors import ConfigError
from sentiment_lib.settings.base import EnvSettings, build

PACKAGED_MODEL = "all-MiniLM-L6-v2"
# Registry aliases: evaluation decides about @challenger; the API, batch and staleness use @champion.
CHAMPION = "champion"
CHALLENGER = "challenger"
PresetName = Literal["smoke", "quick", "fast", "full"]
Truncation = Literal["head", "head_tail"]
TRUNCATIONS: tuple[str, ...] = get_args(Truncation)
REPORT_TARGETS = ("mlflow", "wandb")
LABEL_RANDOM_SHARE = 0.2  # the active labelling queue's random share, unless label_random_share says
# Every evaluation set, in the order pages and cards show them: (metric prefix, what it is). The held-out
# split comes first; the others are scored when their files exist (settings sst2_test_path, airline_test_path).
EVALUATION_SETS: tuple[tuple[str, str], ...] = (
    ("test", "held-out split of the training data"),
    ("sst2_test", "SST-2 test"),
    ("airline", "airline tweets"),
)


class Settings(EnvSettings):
    """Every knob of the pipeline. The defaults are the ``quick`` preset."""

    model_config = SettingsConfigDict(env_prefix="SENTIMENT_")
    title: ClassVar[str] = "Settings"

    preset: PresetName = Field("quick", description="settings preset: smoke, quick, fast or full")
    # data
    raw_path: str = Field("data/raw/sentiment_analysis.csv", description="the imported training data (CSV)")
    processed_dir: str = Field("data/processed", description="where 01_preprocess writes the splits")
    val_fraction: float = Field(0.1, gt=0, lt=0.5, description="share of rows held out for validation")
    test_fraction: float = Field(0.1, gt=0, lt=0.5, description="share of rows held out for the test split")
    split_seed: int = Field(42, description="seed of the split")
    max_train_samples: int = Field(20000, ge=0, description="training rows at most; 0 = every row")
    mix: str = Field(
        "sst2:1,reviews:3",
        description="weight of each source of training rows (sst2, reviews, airline) or domain (hotels:2)",
    )
    balance_labels: float = Field(
        2.0,
        ge=0,
        description="in each domain, at most this many rows of the majority label per minority row; 0 = off",
    )
    augment: bool = Field(False, description="add copies of training rows with light word-level noise")
    augment_copies: int = Field(1, gt=0, description="noisy copies per training row when augment is on")
    augment_capabilities: str = Field(
        "outcomes,negated_negative,contrast",
        description="template sentences for weak behavioural capabilities (comma-separated); empty = none",
    )
    augment_capability_rows: int = Field(3000, gt=0, description="template sentences added per capability")
    identity_augment_rows: int = Field(
        2000, ge=0, description="copies of reviews naming a person with an identity term inserted; 0 = off"
    )
    # model and training
    model_name_or_path: str = Field(PACKAGED_MODEL, description="the encoder fine-tuned (a folder or a name)")
    max_length: int = Field(64, gt=0, description="tokens read of each text")
    truncation: Truncation = Field(
        "head_tail", description="what of a longer text is read: its start (head) or start and end (head_tail)"
    )
    learning_rate: float = Field(1e-4, gt=0, lt=1, description="peak learning rate")
    num_epochs: float = Field(1.0, gt=0, description="passes over the training rows")
    batch_size: int = Field(32, gt=0, description="training batch size")
    eval_batch_size: int = Field(128, gt=0, description="evaluation batch size")
    eval_steps: int = Field(125, gt=0, description="training steps between validations")
    max_eval_samples: int = Field(2000, ge=0, description="validation rows scored at most; 0 = every row")
    early_stopping_patience: int = Field(3, ge=0, description="validations without improvement before stopping")
    weight_decay: float = Field(0.01, ge=0, description="AdamW weight decay")
    warmup_ratio: float = Field(0.06, ge=0, lt=1, description="share of the steps warming the learning rate up")
    layer_decay: float = Field(
        1.0, gt=0, le=1, description="learning rate x this per layer below the classifier; 1 = one rate for all"
    )
    label_smoothing: float = Field(0.0, ge=0, lt=0.5, description="label smoothing of the loss")
    average_from: float = Field(
        0.0, ge=0, lt=1, description="average the weights over the last (1 - this) of the steps; 0 = off"
    )
    average_every: int = Field(100, gt=0, description="steps between the weight samples averaged")
    layers: int = Field(
        0,
        ge=0,
        description="encoder layers of the model; fewer than the pretrained encoder's makes a student distilled "
        "from a full-depth teacher trained first on the same rows; 0 = all",
    )
    student_unlabelled_rows: int = Field(
        20000,
        ge=0,
        description="texts a student also learns its teacher's answers on, no label used: the newest served "
        "texts, then training-split rows max_train_samples left out",
    )
    distill_teachers: int = Field(
        0, ge=0, description="models trained first whose averaged logits teach the final one; 0 = off"
    )
    distill_weight: float = Field(0.5, ge=0, le=1, description="share of the teachers' soft targets in the loss")
    distill_temperature: float = Field(2.0, gt=0, description="softens both distributions in the distillation term")
    logging_steps: int = Field(25, gt=0, description="training steps between logged losses")
    seed: int = Field(42, description="seed of training")
    checkpoint_dir: str = Field("models/checkpoints", description="the trainer's checkpoints")
    # evaluation
    sst2_test_path: str = Field("../shared/data/sst2/test.tsv", description="SST-2 labelled test set")
    airline_test_path: str = Field(
        "../shared/data/airline/Tweets.csv", description="airline tweets: the off-domain robustness check"
    )
    behaviour_cases: int = Field(400, ge=0, description="behavioural suite: cases per capability; 0 = off")
    # staleness
    feedback_path: str = Field("data/feedback/feedback.csv", description="labelled feedback collected")
    served_log_dir: str = Field("logs/served", description="the served texts the API logs, for the drift checks")
    served_log_retention_days: int = Field(30, ge=1, description="the API deletes served-log days older than this")
    served_log_max_mb_per_day: float = Field(
        100.0, ge=0, description="a day's megabytes of served log per API process; 0 = no limit"
    )
    served_log_max_text_chars: int = Field(2000, ge=0, description="characters logged of one text; 0 = no limit")
    incoming_settle_seconds: float = Field(
        0.0, ge=0, description="data/incoming: skip files changed more recently than this (0: rename protocol only)"
    )
    staleness_window: int = Field(
        500, gt=0, description="most recent labelled feedback rows judged (not the queue's picks for being hard)"
    )
    min_feedback_rows: int = Field(100, ge=0, description="fewer labelled rows than this: accuracy is not judged")
    accuracy_tolerance: float = Field(0.03, ge=0, description="accuracy may fall this far below the baseline")
    max_age_days: float = Field(30.0, ge=0, description="a champion older than this is stale")
    drift_sample: int = Field(300, gt=0, description="texts per side in the drift test")
    drift_permutations: int = Field(99, gt=0, description="permutations of the drift test")
    drift_alpha: float = Field(0.01, gt=0, lt=1, description="significance of the drift test (false alarms per cycle)")
    feedback_holdout_fraction: float = Field(
        0.2, gt=0, lt=0.5, description="share of feedback (by a hash of the text) never trained on"
    )
    feedback_weight: int = Field(1, gt=0, description="times each feedback row counts in a retrain")
    # the labelling queue (sentiment_lib/labeling/queue.py)
    label_budget: int = Field(
        100, ge=0, description="served texts each cycle asks labels for in data/to_label/<cycle>.csv; 0 = no queue"
    )
    label_policy: Literal["active", "random"] = Field(
        "active", description="how the queue chooses: active (unsure, disputed, drifting texts) or random"
    )
    label_random_share: float = Field(
        LABEL_RANDOM_SHARE,
        ge=0,
        le=1,
        description="active policy: share of the budget drawn at random first, the labels the performance check "
        "reads (with label_budget 100 and min_feedback_rows 100 it judges after 5 cycles); 0 = none",
    )
    # promotion gate: read together as GateThresholds (Settings.gate)
    gate_margin: float = Field(0.005, ge=0, lt=1, description="the challenger must be this much more accurate ...")
    gate_alpha: float = Field(0.05, gt=0, lt=1, description="... with a one-sided McNemar p-value below this")
    gate_floor: float = Field(
        0.80, ge=0, le=1, description="or the champion below this accuracy and the challenger above"
    )
    gate_max_regression: float = Field(0.02, ge=0, description="never this much less accurate on the test split")
    gate_max_capability_drop: float = Field(
        0.05, ge=0, description="nor this much lower a pass rate on any behavioural capability"
    )
    gate_max_identity_drop: float = Field(0.01, ge=0, description="nor this much on an identity invariance group")
    gate_min_live_agreement: float = Field(
        0.0,
        ge=0,
        le=1,
        description="nor agree with the champion on fewer live (shadow-scored) texts; a challenger better offline "
        "waits in the shadow until it is judged; 0 = off",
    )
    gate_min_live_texts: int = Field(
        200, ge=1, description="shadow-scored texts needed before the live agreement is judged"
    )
    # the runner's loop
    cycle_minutes: float = Field(60.0, gt=0, description="runner.py loop: minutes between cycles")
    min_new_rows: int = Field(200, ge=0, description="new labelled feedback rows needed before a retrain")
    max_retrains_per_day: int = Field(2, ge=0, description="retrains at most per day")
    step_timeout_seconds: int = Field(7200, gt=0, description="time allowed to each notebook cell")
    step_retries: int = Field(1, ge=0, description="times a failed notebook is run again before the cycle gives up")
    alert_cooldown_hours: float = Field(6.0, ge=0, description="the same alert is not sent again sooner")
    alert_budget_seconds: float = Field(
        120.0, gt=0, description="a cycle's whole time for sending alerts; past it they wait in the outbox"
    )
    # tracking and registry
    experiment_name: str = Field("sentiment-analysis", description="the MLflow experiment")
    registered_model_name: str = Field("sentiment-classifier", description="the MLflow registered model")
    report_to: str = Field("mlflow,wandb", description="tracking back-ends: mlflow, wandb, both, or none")

    # field validators, not one model validator: an error then names the field (and its variable)
    @field_validator("augment_capabilities")
    @classmethod
    def _known_capabilities(cls, names: str) -> str:
        from sentiment_lib.data.capability_augment import GENERATORS  # here: the data package imports settings

        unknown = sorted({n.strip() for n in names.split(",") if n.strip()} - set(GENERATORS))
        if unknown:
            raise ValueError(f"unknown {unknown}; known: {', '.join(GENERATORS)}")
        return names

    @field_validator("mix")
    @classmethod
    def _parsable_mix(cls, text: str) -> str:
        from sentiment_lib.data.mix import parse_mix  # here: the data package imports settings

        try:
            parse_mix(text)
        except ConfigError as err:
            raise ValueError(str(err)) from None
        return text

    @field_validator("report_to")
    @classmethod
    def _known_targets(cls, text: str) -> str:
        unknown = set(_named_targets(text)) - set(REPORT_TARGETS)
        if unknown:
            raise ValueError(f"may name only {' and '.join(REPORT_TARGETS)}, or none; unknown {sorted(unknown)}")
        return text

    @property
    def gate(self) -> GateThresholds:
        """The promotion gate's thresholds."""
        return GateThresholds(
            margin=self.gate_margin,
            alpha=self.gate_alpha,
            floor=self.gate_floor,
            max_regression=self.gate_max_regression,
            min_feedback_rows=self.min_feedback_rows,
            max_capability_drop=self.gate_max_capability_drop,
            max_identity_drop=self.gate_max_identity_drop,
            min_live_agreement=self.gate_min_live_agreement,
            min_live_texts=self.gate_min_live_texts,
        )

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump()

    def replace(self, **changes: Any) -> Settings:
        """A copy with ``changes`` applied (validated, names checked).

        Raises:
            ConfigError: an unknown name or an invalid value.
        """
        return build(Settings, {**self.model_dump(), **changes})


def _default(name: str) -> Any:
    return Settings.model_fields[name].default


class GateThresholds(BaseModel):
    """What a challenger must show to become champion; the defaults are the settings' (``gate_*``)."""

    model_config = ConfigDict(frozen=True)

    margin: float = _default("gate_margin")
    alpha: float = _default("gate_alpha")
    floor: float = _default("gate_floor")
    max_regression: float = _default("gate_max_regression")
    # judged on the held-out feedback alone when it has this many rows (0: always on the whole gate set)
    min_feedback_rows: int = 0
    max_capability_drop: float = _default("gate_max_capability_drop")
    max_identity_drop: float = _default("gate_max_identity_drop")
    # the challenger's agreement with the champion on live traffic (its shadow log); judged from min_live_texts on
    min_live_agreement: float = _default("gate_min_live_agreement")
    min_live_texts: int = _default("gate_min_live_texts")


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
    # quick's model (the teacher, trained first with the same settings) distilled into 3 of its 6 layers: about
    # twice the sentences per second (docs "Measured results")
    "fast": dict(layers=3),
    # every training row, two epochs at 1e-4 (three on SST-2 alone, docs "Measured results"; the reviews make an
    # epoch about twice as long), the weights of the second half of the steps averaged (kept only when
    # validation prefers them)
    "full": dict(
        max_train_samples=0,
        mix="sst2:1,reviews:1",  # every row once per epoch: repeating the reviews would double the time
        num_epochs=2.0,
        eval_steps=1000,
        max_eval_samples=0,
        average_from=0.5,
    ),
}
assert set(PRESETS) == set(get_args(PresetName)), "each preset is named in PresetName"


def report_targets(s: Settings) -> list[str]:
    """The tracking back-ends named in ``report_to`` (``""`` or ``none`` means no tracking)."""
    return _named_targets(s.report_to)


def _named_targets(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    return [] if names == ["none"] else names


def field_types() -> dict[str, Any]:
    """Each setting's name and its type (as declared)."""
    return {name: info.annotation for name, info in Settings.model_fields.items()}


def coerce(name: str, value: Any) -> Any:
    """Convert ``value`` (often a string from a flag) to the type of setting ``name``.

    Raises:
        ConfigError: the name is not a setting or the value does not convert.
    """
    types = field_types()
    if name not in types:
        raise ConfigError(f"Unknown setting {name!r}. Known settings: {', '.join(sorted(types))}")
    try:
        return TypeAdapter(types[name]).validate_python(value)
    except ValidationError as err:
        message = err.errors()[0]["msg"]
        raise ConfigError(f"Setting {name!r}: {message}, got {value!r}") from None


def resolve_settings(
    preset: str | None = None,
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Build validated settings: defaults, the preset, ``SENTIMENT_*`` variables of ``environ`` (default: the
    process's), then ``overrides``.

    Raises:
        ConfigError: unknown preset, unknown setting name, or an invalid value.
    """
    from_env = Settings.environment_values(environ)
    name = preset or from_env.pop("preset", None) or "quick"
    from_env.pop("preset", None)
    if name not in PRESETS:
        raise ConfigError(f"Unknown preset {name!r}. Choose one of: {', '.join(PRESETS)}")
    given = dict(overrides or {})
    values = {**PRESETS[name], **from_env, **given, "preset": name}
    return build(Settings, values, from_environment=set(from_env) - set(given))


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
