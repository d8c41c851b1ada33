"""Training itself, in-process on a few real SST-2 rows: resume after an interruption."""

from __future__ import annotations

import csv

import pandas as pd
import pytest
from transformers import TrainerCallback

from sentiment_lib import model
from sentiment_lib.config import resolve_settings
from tests.conftest import SST2

pytestmark = pytest.mark.slow


class Interrupt(TrainerCallback):
    """Stops the process-like run abruptly at a given step, as a kill or Ctrl-C would."""

    def __init__(self, at_step: int):
        self.at_step = at_step

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == self.at_step:
            raise KeyboardInterrupt


def frames():
    rows = pd.read_csv(SST2 / "train.tsv", sep="\t", quoting=csv.QUOTE_NONE).sample(200, random_state=5)
    frame = pd.DataFrame({"Review": rows["sentence"], "Sentiment": rows["label"].map({0: "negative", 1: "positive"})})
    return frame.iloc[:160], frame.iloc[160:]


def test_interrupted_training_resumes_from_its_last_checkpoint(tmp_path):
    settings = resolve_settings(
        "smoke",
        {"checkpoint_dir": str(tmp_path / "ckpt"), "report_to": "none", "num_epochs": 2.0, "eval_steps": 5},
        environ={},
    )
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
