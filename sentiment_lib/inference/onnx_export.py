"""Export a fine-tuned classifier to ONNX and quantise it to int8 for ONNX Runtime.

Static quantisation (activation scales calibrated once on real texts) rather than dynamic: dynamic
int8 computes scales per batch, so a text's answer depended on which texts shared its batch (1.5% of
SST-2 test labels flipped between batch sizes 1 and 32). With fixed scales, live and batch answers are
identical, the speed is the same (about 5x PyTorch fp32 on 2 cores) and accuracy stays within 0.5 points.

Only the products with a weight matrix are quantised: the attention's products of two activations are small
for short texts, and quantising them cost more in (de)quantisation than it saved (measured: about 5% more
sentences/s without, at equal accuracy). ONNX Runtime's transformer optimizer can fuse the graph first
(:class:`Int8Recipe`); its fused attention is not quantised statically, so fusing is measured
(benchmarks/bench_inference.py) and off by default.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sentiment_lib.errors import ModelError
from sentiment_lib.inference.model_files import FP32_FILE, INT8_FILE, ONNX_DIR
from sentiment_lib.inference.tokenization import Reading, encode, load_tokenizer, pad_batch

log = logging.getLogger(__name__)

INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")
# Calibration inputs share one padded width: the histogram calibrators need equal shapes.
CALIBRATION_WIDTH = 64
# Clip activation ranges at this percentile: plain min/max let rare outliers waste the int8 range
# (measured: min/max lost 0.4-0.8 points depending on the sample; the 99.99th percentile lost none).
CALIBRATION_PERCENTILE = 99.99


@dataclass(frozen=True)
class Int8Recipe:
    """How the int8 model is made from the fp32 graph."""

    # ONNX Runtime's transformer optimizer first: attention, skip-LayerNorm, bias-GELU and embedding fusions
    fuse: bool = False
    # also quantise the attention's products of two activations (what versions registered before 2026-12 had)
    activation_products: bool = False


SERVED_RECIPE = Int8Recipe()
EARLIER_RECIPE = Int8Recipe(activation_products=True)


def _export_fp32(model_dir: Path, out: Path, eager_attention: bool = False) -> None:
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    # the optimizer recognises the attention as the eager implementation writes it, not the SDPA graph
    implementation = {"attn_implementation": "eager"} if eager_attention else {}
    model = AutoModelForSequenceClassification.from_pretrained(str(model_dir), **implementation).eval()
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    dummy = tokenizer(["a short example"], return_tensors="pt", return_token_type_ids=True)
    axes = {name: {0: "batch", 1: "tokens"} for name in INPUT_NAMES}
    with warnings.catch_warnings(), torch.inference_mode():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation and tracer notes
        torch.onnx.export(
            model,
            tuple(dummy[name] for name in INPUT_NAMES),
            str(out),
            input_names=list(INPUT_NAMES),
            output_names=["logits"],
            dynamic_axes={**axes, "logits": {0: "batch"}},
            opset_version=17,
            dynamo=False,
        )


class _CalibrationTexts:
    """Feeds calibration texts to ONNX Runtime's calibrator one at a time (its data-reader protocol)."""

    def __init__(self, model_dir: Path, texts: list[str]):
        reading = Reading.load(model_dir)
        # cut as the model reads texts, then to the common width the same way
        common = Reading(min(CALIBRATION_WIDTH, reading.max_length), reading.truncation)
        self._rows = iter([common.clip(ids) for ids in encode(load_tokenizer(model_dir), texts, reading)])

    def get_next(self) -> dict[str, np.ndarray] | None:
        ids = next(self._rows, None)
        return None if ids is None else pad_batch([ids], CALIBRATION_WIDTH)


def _fuse(fp32: Path, out: Path, model_dir: Path) -> None:
    """Write ``fp32`` with the transformer optimizer's fusions to ``out``, every tensor's shape inferred (the
    calibrator only collects tensors whose type it knows, and ONNX's own inference skips fused ops)."""
    import onnx
    from onnxruntime.tools.symbolic_shape_infer import SymbolicShapeInference
    from onnxruntime.transformers.optimizer import optimize_model
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(str(model_dir))
    fused = optimize_model(
        str(fp32), model_type="bert", num_heads=config.num_attention_heads, hidden_size=config.hidden_size
    )
    log.info("Fused: %s", {name: n for name, n in fused.get_fused_operator_statistics().items() if n})
    onnx.save(SymbolicShapeInference.infer_shapes(fused.model, auto_merge=True), str(out))


def _quantize(fp32: Path, out: Path, model_dir: Path, texts: list[str], recipe: Int8Recipe) -> None:
    import onnx
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    quantize_static(
        str(fp32),
        str(out),
        _CalibrationTexts(model_dir, texts),
        quant_format=QuantFormat.QOperator,
        op_types_to_quantize=["MatMul"],
        per_channel=True,
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
        calibrate_method=CalibrationMethod.Percentile,
        extra_options={
            "DefaultTensorType": onnx.TensorProto.FLOAT,
            "CalibPercentile": CALIBRATION_PERCENTILE,
            "MatMulConstBOnly": not recipe.activation_products,
        },
    )


def export_int8(
    model_dir: str | Path, calibration_texts: list[str], recipe: Int8Recipe = SERVED_RECIPE, file_name: str = INT8_FILE
) -> Path:
    """Write ``<model_dir>/onnx/<file_name>`` (by default the file the predictor loads) and return its path; the
    fp32 graph it was quantised from stays beside it (``model.fp32.onnx``, what the openvino back-end reads).

    ``calibration_texts`` (about 500 real reviews, for example from the validation split) set the
    activation scales; ``recipe`` says how the graph is made (the benchmark compares recipes).

    Raises:
        ModelError: no calibration texts, or the model cannot be exported or quantised.
    """
    if not calibration_texts:
        raise ModelError("int8 export needs calibration texts (for example the validation reviews)")
    model_dir = Path(model_dir)
    folder = model_dir / ONNX_DIR
    folder.mkdir(exist_ok=True)
    fp32, fused, target = folder / FP32_FILE, folder / "model.fused.onnx", folder / file_name
    try:
        _export_fp32(model_dir, fp32, eager_attention=recipe.fuse)
        if recipe.fuse:
            _fuse(fp32, fused, model_dir)
        _quantize(fused if recipe.fuse else fp32, target, model_dir, calibration_texts, recipe)
    except Exception as err:  # the exporters raise many unrelated types; one clear error for the caller
        fp32.unlink(missing_ok=True)
        raise ModelError(f"ONNX int8 export of {model_dir} failed: {err}") from err
    finally:
        fused.unlink(missing_ok=True)
        for graph in (fp32, fused):  # the quantiser writes its input's shape-inferred copy beside it
            graph.with_name(f"{graph.stem}-inferred.onnx").unlink(missing_ok=True)
    log.info("Exported %s", target)
    return target
