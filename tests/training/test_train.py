"""Cutting a student out of a deeper encoder: which layers it keeps, and that they are the teacher's own."""

from __future__ import annotations

import pytest
import torch

from sentiment_lib.errors import ModelError
from sentiment_lib.settings import PACKAGED_MODEL, resolve_settings
from sentiment_lib.training import train


@pytest.mark.parametrize(
    ("depth", "layers", "kept"),
    [(6, 3, [1, 3, 5]), (6, 2, [2, 5]), (6, 4, [0, 2, 3, 5]), (6, 6, [0, 1, 2, 3, 4, 5]), (12, 3, [3, 7, 11])],
)
def test_a_student_keeps_evenly_spread_layers_ending_with_the_top_one(depth, layers, kept):
    assert train.kept_layers(depth, layers) == kept


@pytest.mark.parametrize("layers", [0, 7])
def test_a_student_cannot_be_deeper_than_its_teacher_or_empty(layers):
    with pytest.raises(ModelError, match=f"A student of {layers} layers cannot be cut from an encoder of 6 layers"):
        train.kept_layers(6, layers)


def test_the_packaged_encoder_has_six_layers():
    assert train.encoder_depth(PACKAGED_MODEL) == 6


def test_a_cut_model_keeps_the_chosen_layers_weights_and_saves_its_depth(tmp_path):
    torch.manual_seed(0)
    _, whole = train.load_pretrained(PACKAGED_MODEL)
    _, student = train.load_pretrained(PACKAGED_MODEL, layers=3)
    assert student.config.num_hidden_layers == 3 and len(student.bert.encoder.layer) == 3
    for position, source in enumerate([1, 3, 5]):
        mine, theirs = student.bert.encoder.layer[position].state_dict(), whole.bert.encoder.layer[source].state_dict()
        assert all(torch.equal(mine[name], theirs[name]) for name in theirs)
    assert torch.equal(student.bert.embeddings.word_embeddings.weight, whole.bert.embeddings.word_embeddings.weight)
    student.save_pretrained(tmp_path)
    assert train.encoder_depth(str(tmp_path)) == 3


def test_too_deep_a_student_is_refused():
    with pytest.raises(ModelError, match="A student of 9 layers"):
        train.load_pretrained(PACKAGED_MODEL, layers=9)


def test_an_unreadable_model_folder_is_a_clear_error(tmp_path):
    with pytest.raises(ModelError, match="Cannot read the configuration"):
        train.encoder_depth(str(tmp_path))


def test_students_of_any_depth_or_preset_share_the_teacher_of_the_same_training_settings():
    quick = resolve_settings("quick", environ={})
    fast = resolve_settings("fast", {"student_unlabelled_rows": 5}, environ={})
    two_layers = resolve_settings("quick", {"layers": 2}, environ={})
    teachers = {train.teacher_settings_of(s).model_dump_json() for s in (quick, fast, two_layers)}
    assert len(teachers) == 1
    teacher = train.teacher_settings_of(fast)
    assert (teacher.layers, teacher.report_to) == (0, "none")
    assert train.teacher_settings_of(fast.replace(learning_rate=3e-5)) != teacher  # a training setting counts
