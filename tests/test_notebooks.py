"""The source notebooks are clean and their parameters cells follow the style guide."""

from __future__ import annotations

import nbformat
import pytest

from sentiment_lib import notebooks as pipeline
from sentiment_lib.errors import ConfigError


@pytest.mark.parametrize("step", list(pipeline.STEPS))
def test_source_notebook_is_clean_and_tagged(step):
    notebook = nbformat.read(pipeline.notebook_path(step), as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert "parameters" in code[0].metadata.get("tags", []), "first code cell must be the parameters cell"
    assert sum("parameters" in c.metadata.get("tags", []) for c in code) == 1
    assert all(not c.outputs and c.execution_count is None for c in code), "commit notebooks without outputs"


@pytest.mark.parametrize("step", list(pipeline.STEPS))
def test_every_parameter_is_typed_and_explained(step):
    for name, info in pipeline.declared_parameters(step).items():
        assert info["inferred_type_name"] in {"str", "int", "float", "bool"}, name
        assert info["help"], f"{name} needs a trailing comment"


@pytest.mark.parametrize("step", list(pipeline.STEPS))
def test_papermill_reads_every_line_of_the_parameters_cell(step):
    # a line papermill cannot parse (an "=" or parentheses in its comment) is silently not injected: the
    # notebook's literal default would then override the preset
    notebook = nbformat.read(pipeline.notebook_path(step), as_version=4)
    cell = next(c for c in notebook.cells if "parameters" in c.metadata.get("tags", []))
    assigned = [line.split(":")[0] for line in cell.source.splitlines() if line and not line.startswith("#")]
    assert sorted(assigned) == sorted(pipeline.declared_parameters(step))


def test_unknown_parameter_is_refused_with_the_declared_names():
    with pytest.raises(
        ConfigError, match=r"Unknown parameter\(s\) \['learnin_rate'\] for train\. Declared: .*learning_rate"
    ):
        pipeline.check_parameter_names(["train"], {"learnin_rate": "0.1"})


def test_parameters_for_a_step_come_typed_from_preset_and_overrides():
    params = pipeline.build_parameters("train", "smoke", {"learning_rate": "0.0002", "augment": "yes"}, "c1")
    assert params["learning_rate"] == 0.0002
    assert params["augment"] is True
    assert params["max_train_samples"] == 320  # from the smoke preset
    assert params["cycle"] == "c1"
    evaluate = pipeline.build_parameters("evaluate", None, {"promote": "never"}, "c1")
    assert evaluate["promote"] == "never" and evaluate["preset"] == "quick"


def test_bad_parameter_value():
    with pytest.raises(
        ConfigError,
        match=r"max_length: Input should be a valid integer, .* got 'long'",
    ):
        pipeline.build_parameters("train", "smoke", {"max_length": "long"}, "c1")
