"""The model card says what the registry knows: data, numbers with intervals, calibration, the gate's decision."""

from __future__ import annotations

from types import SimpleNamespace

from mlflow.entities.model_registry import ModelVersion, ModelVersionTag

from sentiment_lib.tracking import model_card

EVALUATED = {
    "test_accuracy": "0.9",
    "test_n": "1000.0",
    "test_f1": "0.91",
    "test_roc_auc": "0.96",
    "test_ece": "0.014",
    "test_ece_before_temperature": "0.02",
    "airline_accuracy": "0.8",
    "airline_n": "100.0",
    "test_hotels_accuracy": "0.95",
    "test_hotels_n": "200.0",
    "test_hotels_confident_errors": "0.015",
    "sst2_test_fp32_accuracy": "0.88",
    "capability_identity_religion": "0.96",
    "capability_negation": "0.5",
}
REJECTED = {
    "gate.promote": "false",
    "gate.reason": "no significant gain (p=0.21 > 0.05)",
    "gate.champion_version": "3",
    "gate.challenger_accuracy": "0.9050",
    "gate.champion_accuracy": "0.9000",
    "gate.p_value": "0.21",
    "gate.n": "1200",
    "gate.judged_on": "test split + feedback holdout",
}


def version(tags: dict[str, str]) -> ModelVersion:
    return ModelVersion("sentiment-classifier", "4", 0, tags=[ModelVersionTag(k, v) for k, v in tags.items()])


def run(params: dict[str, str], metrics: dict[str, float]):
    """What the card reads of a run: its params and metrics (as ``Run.data`` holds them)."""
    return SimpleNamespace(data=SimpleNamespace(params=params, metrics=metrics))


def test_a_rejected_challenger_card_has_its_numbers_intervals_and_the_decision():
    trained = run({"settings.raw_path": "data/raw/x.csv", "settings.preset": "quick"}, {"train_rows": 20000.0})
    card = model_card.build_card("sentiment-classifier", version({**EVALUATED, **REJECTED}), trained)
    assert card.startswith("# sentiment-classifier, version 4")
    assert "- **Trained on**: `data/raw/x.csv`, 20,000 rows." in card
    # 900 of 1,000 right: the Wilson 95% interval is 87.98% to 91.71%
    held_out = "| held-out split of the training data | 1,000 | 90.00% | 87.98% to 91.71% | 0.910 | 0.960 |"
    assert f"{held_out} not measured |" in card
    assert "| airline tweets | 100 | 80.00% | 71." in card
    hotels = next(line for line in card.splitlines() if line.startswith("| hotels (held-out split) | 200 |"))
    assert "| 95.00% | 91." in hotels
    assert hotels.endswith("| 1.50% |")
    assert card.index("held-out split of") < card.index("hotels (held-out") < card.index("airline tweets")
    assert "fp32" not in card and "- religion: 4.0% of pairs" in card and "negation" not in card
    assert "expected calibration error 0.014 (before temperature scaling: 0.020)" in card
    assert "Compared with version 3 on 1200 rows" in card and "McNemar p = 0.21" in card
    assert "Decision: rejected (no significant gain" in card
    assert "rejected by the gate" in model_card.summary(card)[3]


def test_a_student_card_says_how_deep_it_is_and_whom_it_learned_from():
    trained = run({"settings.preset": "fast", "settings.layers": "3", "settings.model_name_or_path": "m6"}, {})
    student = {**EVALUATED, "encoder_layers": "3", "teacher_dir": "/ws/models/checkpoints/teachers/1e97"}
    card = model_card.build_card("m", version(student), trained)
    assert "- **Preset**: `fast`, starting from `m6`; 3 encoder layers, distilled from a full-depth teacher" in card
    full = model_card.build_card("m", version({**EVALUATED, "encoder_layers": "6"}), run({"settings.layers": "0"}, {}))
    assert "; 6 encoder layers." in full and "distilled" not in full
    assert "encoder layers" not in model_card.build_card("m", version(EVALUATED), None)  # registered before


def test_a_first_version_without_evaluation_or_run_still_gets_a_card():
    card = model_card.build_card("m", version({"promotion.reason": "first version"}), None)
    assert "Not evaluated yet." in card and "an unknown number of rows" in card
    assert "promoted to @champion (first version)" in card and "no gate comparison" in card
    assert len(model_card.summary(card)) == 4 and all("**" not in line for line in model_card.summary(card))
