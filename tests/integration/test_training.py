"""Training itself, in-process on a few real SST-2 rows: resume after an interruption, weight averaging."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch
from transformers import TrainerCallback

from sentiment_lib.errors import ModelError
from sentiment_lib.inference.predictor import SentimentPredictor
from sentiment_lib.settings import resolve_settings
from sentiment_lib.training import train as model
from tests.helpers import sst2

pytestmark = pytest.mark.slow


class Interrupt(TrainerCallback):
    """Stops the process-like run abruptly at a given step, as a kill or Ctrl-C would."""

    def __init__(self, at_step: int):
        self.at_step = at_step

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == self.at_step:
            raise KeyboardInterrupt


def frames():
    frame = sst2("train").sample(200, random_state=5)
    return frame.iloc[:160], frame.iloc[160:]


def smoke_settings(tmp_path, **changes):
    """The smoke preset, untracked, with checkpoints under ``tmp_path``."""
    return resolve_settings(
        "smoke", {"checkpoint_dir": str(tmp_path / "ckpt"), "report_to": "none", **changes}, environ={}
    )


def test_interrupted_training_resumes_from_its_last_checkpoint(tmp_path):
    settings = smoke_settings(tmp_path, num_epochs=2.0, eval_steps=5)
    train, validation = frames()
    with pytest.raises(KeyboardInterrupt):
        model.train_classifier(settings, train, validation, tmp_path / "m1", "t", callbacks=[Interrupt(12)])
    checkpoints = sorted(p.name for p in (tmp_path / "ckpt").glob("*/checkpoint-*"))
    assert checkpoints == ["checkpoint-10", "checkpoint-5"]

    result = model.train_classifier(settings, train, validation, tmp_path / "m2", "t")
    assert result.resumed_from.endswith("checkpoint-10")
    assert result.global_step == 20  # 160 rows / batch 16 * 2 epochs: the run went on, not from zero
    assert (tmp_path / "m2" / "model.safetensors").is_file()
    assert not any((tmp_path / "ckpt").iterdir()), "checkpoints are removed once training has finished"


def test_weight_averaging_is_kept_only_when_validation_says_so(tmp_path):
    settings = smoke_settings(tmp_path, average_from=0.5, average_every=2)
    train, validation = frames()
    result = model.train_classifier(settings, train, validation, tmp_path / "m", "t")
    assert result.averaged_metric is not None
    assert result.kept_average == (result.averaged_metric >= result.best_metric)
    # the saved weights score what the kept choice scored on validation
    saved = SentimentPredictor.from_directory(tmp_path / "m", backend="torch", max_length=settings.max_length)
    accuracy = (np.array(saved.predict(validation["Review"].tolist()).labels) == validation["Sentiment"]).mean()
    assert accuracy == pytest.approx(max(result.best_metric, result.averaged_metric), abs=1 / len(validation))


def test_weight_averager_averages_the_sampled_steps():
    layer = torch.nn.Linear(2, 1)
    averager = model.WeightAverager(start_fraction=0.5, every=2)
    state = SimpleNamespace(max_steps=8, global_step=0)
    for step, value in enumerate(range(1, 9), start=1):
        torch.nn.init.constant_(layer.weight, float(value))
        state.global_step = step
        averager.on_step_end(None, state, None, model=layer)
    # sampled at steps 4, 6 and 8, where the weight was 4, 6 and 8
    assert averager.count == 3
    assert torch.allclose(averager.averaged_weights()["weight"], torch.full((1, 2), 6.0))


def test_a_student_learns_what_its_teacher_says(tmp_path):
    # a teacher that contradicts every label, followed alone (weight 1): the student learns the contradiction
    settings = smoke_settings(tmp_path, distill_weight=1.0, distill_temperature=1.0)
    train, validation = frames()
    labels = (train["Sentiment"] == "positive").to_numpy()
    contrary = np.where(labels[:, None], [[4.0, -4.0]], [[-4.0, 4.0]]).astype(np.float32)
    model.train_classifier(settings, train, validation, tmp_path / "m", "t", teacher_logits=contrary)
    saved = SentimentPredictor.from_directory(tmp_path / "m", backend="torch", max_length=settings.max_length)
    agreement = (np.array(saved.predict(train["Review"].tolist()).labels) == train["Sentiment"]).mean()
    assert agreement < 0.5  # a plain run agrees with the labels on about 95% of these rows


def test_teachers_are_trained_first_and_only_their_logits_kept_until_the_model_is_done(tmp_path):
    settings = smoke_settings(tmp_path, distill_teachers=1, num_epochs=2.0)
    train, validation = frames()
    result = model.train_with_teachers(settings, train, validation, tmp_path / "m", "t")
    assert len(result.teacher_accuracies) == 1
    assert 0.0 < result.teacher_accuracies[0] <= 1.0
    assert result.global_step == 20  # the model itself: 160 rows / batch 16 * 2 epochs
    assert (tmp_path / "m" / "model.safetensors").is_file()
    leftovers = [p for p in (tmp_path / "ckpt").rglob("*") if p.is_file()]
    assert leftovers == [], "teacher logits and checkpoints are removed once the model is trained"


class RecordLearningRates(TrainerCallback):
    def __init__(self):
        self.rates: list[float] = []

    def on_step_end(self, args, state, control, optimizer=None, **kwargs):
        if state.global_step == 1:  # the linear schedule ends at zero for every group
            self.rates = sorted({group["lr"] for group in optimizer.param_groups})


def test_layer_decay_trains_each_depth_at_its_own_learning_rate(tmp_path):
    settings = smoke_settings(tmp_path, layer_decay=0.5, num_epochs=0.5)
    train, validation = frames()
    recorder = RecordLearningRates()
    model.train_classifier(settings, train, validation, tmp_path / "m", "t", callbacks=[recorder])
    # embeddings, 6 encoder layers, pooler and classifier: 8 depths, each half the rate of the one above
    assert len(recorder.rates) == 8
    assert recorder.rates[-1] / recorder.rates[0] == pytest.approx(2**7)


def test_teacher_logits_that_do_not_match_the_training_rows_are_refused(tmp_path):
    train, validation = frames()
    with pytest.raises(ModelError, match="one row of 2 logits per training row: got shape \\(159, 2\\) for 160 rows"):
        model.train_classifier(
            smoke_settings(tmp_path), train, validation, tmp_path / "m", "t", teacher_logits=np.zeros((159, 2))
        )


def test_a_three_layer_student_is_distilled_from_a_six_layer_teacher_trained_first(tmp_path, caplog):
    settings = smoke_settings(tmp_path, layers=3)
    train, validation = frames()
    served = sst2("dev")["Review"].head(40).tolist()
    unlabelled = [*served, served[0], train["Review"].iloc[0]]  # a repeat and a training row: neither counted twice
    result = model.train_model(settings, train, validation, tmp_path / "student", "t", unlabelled)

    student = SentimentPredictor.from_directory(tmp_path / "student", backend="torch")
    assert model.encoder_depth(str(tmp_path / "student")) == 3
    assert model.encoder_depth(str(result.teacher_dir)) == 6
    assert result.teacher_dir.parent == tmp_path / "ckpt" / "teachers"
    assert len(result.teacher_accuracies) == 1 and 0.5 < result.teacher_accuracies[0] <= 1.0
    # 160 training rows and the 40 new served texts, batch 16, 4 epochs
    assert result.global_step == (160 + 40) // 16 * 4 + 4
    # the student was cut from the trained teacher, not from the pretrained encoder
    teacher = SentimentPredictor.from_directory(result.teacher_dir, backend="torch")
    texts = validation["Review"].tolist()
    agreement = (np.array(student.predict(texts).labels) == np.array(teacher.predict(texts).labels)).mean()
    assert agreement >= 0.75

    caplog.set_level("INFO", logger="sentiment_lib.training.train")
    again = model.train_model(settings, train, validation, tmp_path / "again", "t", unlabelled)
    assert again.teacher_dir == result.teacher_dir and "Teacher: reusing" in caplog.text
    assert [p.name for p in (tmp_path / "ckpt" / "teachers").iterdir()] == [result.teacher_dir.name]


def test_served_texts_are_labelled_by_the_teacher_once_each(small_model):
    teacher = SentimentPredictor.from_directory(small_model, backend="torch")
    train = pd.DataFrame({"Review": ["known text"], "Sentiment": ["positive"]})
    rows, logits = model.pseudo_labelled(teacher, ["new one", "known text", "new one", "another"], train)
    assert rows["Review"].tolist() == ["new one", "another"]
    assert rows["Sentiment"].tolist() == teacher.predict(["new one", "another"]).labels
    assert np.allclose(logits, teacher.logits(["new one", "another"]))
    assert model.pseudo_labelled(teacher, [], train)[0].empty


def test_a_student_deeper_than_the_encoder_is_refused_before_training(tmp_path):
    train, validation = frames()
    with pytest.raises(ModelError, match="A student of 8 layers cannot be cut from an encoder of 6 layers"):
        model.train_model(smoke_settings(tmp_path, layers=8), train, validation, tmp_path / "m", "t")
    assert not (tmp_path / "ckpt").exists()
