"""The project Trainer's parts: the distillation loss and the layer-wise learning rates."""

from __future__ import annotations

import math

import pytest
import torch
from transformers import BertConfig, BertForSequenceClassification

from sentiment_lib.training.trainer import distillation_loss, layer_depth, layerwise_parameter_groups

LOGITS = torch.tensor([[2.0, -1.0], [0.5, 0.0]])
LABELS = torch.tensor([0, 1])
TEACHER = torch.tensor([[1.0, 0.0], [-1.0, 1.0]])


def test_weight_zero_is_the_cross_entropy_on_the_labels():
    loss = distillation_loss(LOGITS, LABELS, TEACHER, weight=0.0, temperature=2.0)
    assert loss.item() == pytest.approx(torch.nn.functional.cross_entropy(LOGITS, LABELS).item())


def test_a_student_equal_to_its_teacher_has_no_distillation_loss():
    assert distillation_loss(TEACHER, LABELS, TEACHER, weight=1.0, temperature=3.0).item() == pytest.approx(0.0)


def test_weight_one_is_the_kl_divergence_at_the_temperature_times_its_square():
    temperature = 2.0
    expected = 0.0
    for student, teacher in zip(LOGITS.tolist(), TEACHER.tolist(), strict=True):
        p = torch.softmax(torch.tensor(teacher) / temperature, dim=0).tolist()
        q = torch.softmax(torch.tensor(student) / temperature, dim=0).tolist()
        expected += sum(pi * math.log(pi / qi) for pi, qi in zip(p, q, strict=True))
    expected = expected / len(LOGITS) * temperature**2
    loss = distillation_loss(LOGITS, LABELS, TEACHER, weight=1.0, temperature=temperature)
    assert loss.item() == pytest.approx(expected, rel=1e-5)


def test_layer_depth_counts_from_the_embeddings_up_to_the_classifier():
    assert layer_depth("bert.embeddings.word_embeddings.weight", 6) == 0
    assert layer_depth("bert.encoder.layer.0.attention.self.query.weight", 6) == 1
    assert layer_depth("bert.encoder.layer.5.output.dense.bias", 6) == 6
    assert layer_depth("bert.pooler.dense.weight", 6) == 7
    assert layer_depth("classifier.weight", 6) == 7


def test_layerwise_groups_shrink_the_learning_rate_by_the_decay_per_layer_down():
    config = BertConfig(vocab_size=50, hidden_size=8, num_hidden_layers=2, num_attention_heads=2, intermediate_size=16)
    model = BertForSequenceClassification(config)
    names = [name for name, _ in model.named_parameters()]
    decayed = [name for name in names if "bias" not in name and "LayerNorm" not in name]
    groups = layerwise_parameter_groups(model, 1e-3, 0.5, 0.01, decayed)
    lr_of = {id(p): group["lr"] for group in groups for p in group["params"]}
    wd_of = {id(p): group["weight_decay"] for group in groups for p in group["params"]}
    parameters = dict(model.named_parameters())
    assert len(lr_of) == len(names), "every trainable parameter is in exactly one group"
    assert lr_of[id(parameters["classifier.weight"])] == pytest.approx(1e-3)
    assert lr_of[id(parameters["bert.encoder.layer.1.output.dense.weight"])] == pytest.approx(5e-4)
    assert lr_of[id(parameters["bert.encoder.layer.0.output.dense.weight"])] == pytest.approx(2.5e-4)
    assert lr_of[id(parameters["bert.embeddings.word_embeddings.weight"])] == pytest.approx(1.25e-4)
    assert wd_of[id(parameters["bert.encoder.layer.0.output.dense.weight"])] == 0.01
    assert wd_of[id(parameters["bert.encoder.layer.0.output.dense.bias"])] == 0.0
