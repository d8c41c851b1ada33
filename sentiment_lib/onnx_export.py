"""Export a fine-tuned classifier to ONNX, fuse it for ONNX Runtime, and quantise its weights to int8.

Measured on 2 CPU cores with the SST-2 test set (see README): ONNX Runtime with BERT fusions and
per-channel dynamic int8 weights runs about 5x faster than PyTorch fp32 within 0.5 accuracy points,
where torch's own dynamic quantisation lost 0.7 points.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

from sentiment_lib.errors import ModelError

log = logging.getLogger(__name__)

ONNX_DIR = "onnx"
INT8_FILE = "model.int8.onnx"
INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")


def int8_path(model_dir: str | Path) -> Path:
    return Path(model_dir) / ONNX_DIR / INT8_FILE


def _export_fp32(model_dir: Path, out: Path) -> None:
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    model = AutoModelForSequenceClassification.from_pretrained(str(model_dir)).eval()
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


def _fuse(fp32: Path, out: Path, model_dir: Path) -> None:
    from onnxruntime.transformers import optimizer
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(str(model_dir))
    fused = optimizer.optimize_model(
        str(fp32), model_type="bert", num_heads=config.num_attention_heads, hidden_size=config.hidden_size
    )
    fused.save_model_to_file(str(out))


def _quantize(fused: Path, out: Path) -> None:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(
        str(fused),
        str(out),
        weight_type=QuantType.QInt8,
        per_channel=True,
        # the fused attention ops come from ORT's own domain, which ONNX shape inference cannot type
        extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
    )


def export_int8(model_dir: str | Path) -> Path:
    """Write ``<model_dir>/onnx/model.int8.onnx`` (and its fp32 steps) and return its path.

    Raises:
        ModelError: the model cannot be exported or quantised.
    """
    model_dir = Path(model_dir)
    folder = model_dir / ONNX_DIR
    folder.mkdir(exist_ok=True)
    fp32, fused, target = folder / "model.fp32.onnx", folder / "model.fused.onnx", folder / INT8_FILE
    try:
        _export_fp32(model_dir, fp32)
        _fuse(fp32, fused, model_dir)
        _quantize(fused, target)
    except Exception as err:  # the exporters raise many unrelated types; one clear error for the caller
        raise ModelError(f"ONNX int8 export of {model_dir} failed: {err}") from err
    finally:
        for step in (fp32, fused):
            step.unlink(missing_ok=True)
    log.info("Exported %s", target)
    return target
