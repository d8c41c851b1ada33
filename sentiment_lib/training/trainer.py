"""The project's ``Trainer``: distillation from teachers and layer-wise learning rates, both off by default.

Distillation: an ensemble of fine-tuned models is usually more accurate than any member; training one more
model towards the ensemble's softened output carries part of that gain into a single model, free at serving.
Layer-wise learning-rate decay: the layers near the input hold the most general pretrained features, so they
move more slowly than the ones near the classifier.
"""

from __future__ import annotations

import re
from typing import Any

import torch
from transformers import Trainer


def distillation_loss(
    logits: torch.Tensor,
    labels: torch.Tensor,
    teacher_logits: torch.Tensor,
    weight: float,
    temperature: float,
    label_smoothing: float = 0.0,
) -> torch.Tensor:
    """``(1 - weight)`` x cross-entropy on the labels + ``weight`` x KL from the teacher's softened distribution.

    The KL term is scaled by temperature squared so its gradients keep their size as the temperature rises
    (Hinton et al., 2015).
    """
    hard = torch.nn.functional.cross_entropy(logits, labels, label_smoothing=label_smoothing)
    soft = torch.nn.functional.kl_div(
        torch.log_softmax(logits / temperature, dim=-1),
        torch.log_softmax(teacher_logits / temperature, dim=-1),
        reduction="batchmean",
        log_target=True,
    )
    return (1 - weight) * hard + weight * temperature**2 * soft


class SentimentTrainer(Trainer):
    """A Trainer that learns from teachers' logits when the training batches carry them (``teacher_logits``),
    and gives each encoder layer its own learning rate when ``layer_decay`` < 1.

    Evaluation batches have no teacher logits and get the plain cross-entropy.
    """

    def __init__(
        self, *args: Any, distill_weight: float, distill_temperature: float, layer_decay: float = 1.0, **kwargs: Any
    ):
        super().__init__(*args, **kwargs)
        self.distill_weight = distill_weight
        self.distill_temperature = distill_temperature
        self.layer_decay = layer_decay

    def create_optimizer(self, model: Any = None) -> torch.optim.Optimizer:
        if self.layer_decay == 1.0 or self.optimizer is not None:
            return super().create_optimizer(model)
        model = model or self.model
        optimizer_cls, optimizer_kwargs = self.get_optimizer_cls_and_kwargs(self.args, model)
        groups = layerwise_parameter_groups(
            model,
            self.args.learning_rate,
            self.layer_decay,
            self.args.weight_decay,
            self.get_decay_parameter_names(model),
        )
        self.optimizer = optimizer_cls(groups, **optimizer_kwargs)
        return self.optimizer

    def compute_loss(
        self, model: Any, inputs: dict[str, Any], return_outputs: bool = False, num_items_in_batch: Any = None
    ) -> Any:
        teacher_logits = inputs.pop("teacher_logits", None)
        if teacher_logits is None:
            return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
        outputs = model(**{key: value for key, value in inputs.items() if key != "labels"})
        loss = distillation_loss(
            outputs.logits,
            inputs["labels"],
            teacher_logits.to(outputs.logits.dtype),
            self.distill_weight,
            self.distill_temperature,
            self.args.label_smoothing_factor,
        )
        return (loss, outputs) if return_outputs else loss


def layer_depth(parameter_name: str, num_layers: int) -> int:
    """0 for the embeddings, i + 1 for encoder layer i, num_layers + 1 for the pooler and the classifier."""
    if ".embeddings." in f".{parameter_name}":
        return 0
    layer = re.search(r"\.layer\.(\d+)\.", parameter_name)
    return int(layer.group(1)) + 1 if layer else num_layers + 1


def layerwise_parameter_groups(
    model: Any, learning_rate: float, decay: float, weight_decay: float, decayed_names: list[str]
) -> list[dict[str, Any]]:
    """One optimizer group per (depth, weight decay or not): learning rate x decay ** (distance from the top)."""
    num_layers = model.config.num_hidden_layers
    groups: dict[tuple[int, bool], dict[str, Any]] = {}
    for name, parameter in model.named_parameters():
        if not parameter.requires_grad:
            continue
        depth = layer_depth(name, num_layers)
        decayed = name in decayed_names
        group = groups.setdefault(
            (depth, decayed),
            {
                "params": [],
                "lr": learning_rate * decay ** (num_layers + 1 - depth),
                "weight_decay": weight_decay if decayed else 0.0,
            },
        )
        group["params"].append(parameter)
    return list(groups.values())
