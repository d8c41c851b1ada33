"""Which back-end serves fastest on this CPU: read from its flags, as measured in benchmarks/bench_inference.py."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from sentiment_lib.inference.predictor import fastest_backend, padded_to_bucket

HAS_OPENVINO = importlib.util.find_spec("openvino") is not None


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        ("fpu sse avx2 avx512f avx512_vnni amx_bf16 amx_tile amx_int8", "openvino" if HAS_OPENVINO else "onnx-int8"),
        ("fpu sse avx2 avx512f avx512_vnni", "onnx-int8"),  # int8 with VNNI beats fp32 there
        ("fpu sse avx2", "onnx-int8"),
    ],
)
def test_openvino_is_chosen_only_where_the_cpu_multiplies_in_bfloat16(tmp_path, flags, expected):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(f"processor\t: 0\nmodel name\t: a CPU\nflags\t\t: {flags}\n")
    assert fastest_backend(cpuinfo) == expected


def test_without_cpu_information_the_int8_model_serves(tmp_path):
    assert fastest_backend(tmp_path / "missing") == "onnx-int8"


def test_openvino_inputs_are_padded_to_a_bounded_set_of_shapes():
    ids = np.arange(1, 3 * 21 + 1, dtype=np.int64).reshape(3, 21)
    inputs = {"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": np.zeros_like(ids)}
    padded = padded_to_bucket(inputs)
    assert {name: values.shape for name, values in padded.items()} == dict.fromkeys(inputs, (4, 32))
    assert (padded["input_ids"][:3, :21] == ids).all() and (padded["input_ids"][:, 21:] == 0).all()
    assert padded["attention_mask"][:3].sum() == 3 * 21  # the added columns are masked out
    assert padded["attention_mask"][3].tolist() == [1] + [0] * 31  # an added row attends to one position
    assert padded_to_bucket({k: v[:1, :16] for k, v in inputs.items()})["input_ids"].shape == (1, 16)
