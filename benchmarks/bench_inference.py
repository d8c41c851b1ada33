"""Sentences per second on one CPU, and what each configuration costs in accuracy: one run, one machine.

    .venv/bin/python benchmarks/bench_inference.py [--workspace benchmarks/.work/inference] [--rounds 5]

The workspace gets the `fast` preset trained the way a user trains it (``runner.py import-data``,
``preprocess``, ``train --preset fast``, ``evaluate``) unless it has a `fast` version already; the first one
is the workspace's champion, which ``bench_api.py --workspace`` and ``bench_batch_memory.py --workspace``
serve. That one run gives both models: the 3-layer student it registers, and its 6-layer teacher, which is
what ``--preset quick`` trains on the same rows. Every configuration is then measured in a process of its
own: the HF ``pipeline`` at batch 1 and 32 (the baselines), our predictor on PyTorch fp32, the int8 ONNX
model by each export recipe (the one registered until now, the one served now, and the transformer
optimizer's fused graph) and OpenVINO on the fp32 graph (bfloat16 where the CPU has AMX), for the teacher
and the student. Speed is prediction on the 1,821 SST-2 test sentences after a warm-up pass, in ``--rounds``
interleaved rounds (median and range); accuracy is on SST-2 test, the airline tweets (a domain none trained
on) and the customer reviews of the held-out split; size is the model file on disk, RSS the process's peak.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from bench_accuracy import prepare_workspace, train_preset, trained_recipes
from common import REPO, SHARED, machine_summary, print_table

from sentiment_lib.data import importers
from sentiment_lib.data.schema import LABEL_COLUMN, TEXT_COLUMN

TODAY = "ours, 6 layers, int8 (recipe until now)"  # the reference of the speed-up column


@dataclass(frozen=True)
class Configuration:
    """One row of the table: a model folder read by one predictor."""

    name: str
    model_dir: str
    engine: str  # "hf-pipeline", "torch" or "onnx-int8"
    batch_size: int = 32
    size_file: str = "model.safetensors"  # what its size column measures, under model_dir


# --- the models --------------------------------------------------------------------------------------------------


def trained_student(workspace: Path) -> tuple[Path, Path]:
    """The registered `fast` student's folder and its 6-layer teacher's, training them first when needed."""
    from sentiment_lib.tracking import registry

    prepare_workspace(workspace)
    if fast_version(workspace) is None:
        train_preset(workspace, "fast")  # train and evaluate: the first version becomes the workspace's champion
    version = fast_version(workspace)
    student = Path(registry.load_served_model(version.name, version=version.version).model_dir)
    return student, Path(version.tags["teacher_dir"])


def fast_version(workspace: Path):
    """The newest version trained with the `fast` preset, or None."""
    return trained_recipes(workspace).get("fast")


def calibration_texts(workspace: Path) -> list[str]:
    """The 500 validation reviews the pipeline calibrates the int8 model on (same rows, same seed)."""
    from sentiment_lib.data import dataset
    from sentiment_lib.training.workflow import INT8_CALIBRATION_ROWS, load_training_rows
    from sentiment_lib.workspace import Workspace

    ws = Workspace(workspace)
    rows = load_training_rows(ws)
    return dataset.sample_rows(rows.validation, INT8_CALIBRATION_ROWS, ws.settings.seed)[TEXT_COLUMN].tolist()


def int8_variant(source: Path, scratch: Path, name: str, recipe, texts: list[str]) -> Path:
    """A copy of ``source`` whose int8 model is exported by ``recipe`` (kept between runs)."""
    from sentiment_lib.inference.model_files import INT8_FILE, int8_path
    from sentiment_lib.inference.onnx_export import export_int8

    folder = scratch / name
    if not int8_path(folder).is_file():
        shutil.rmtree(folder, ignore_errors=True)
        shutil.copytree(source, folder, ignore=shutil.ignore_patterns(INT8_FILE))
        export_int8(folder, texts, recipe)
    return folder


def configurations(student: Path, teacher: Path, scratch: Path, texts: list[str]) -> list[Configuration]:
    from sentiment_lib.inference.model_files import FP32_FILE, INT8_FILE, ONNX_DIR
    from sentiment_lib.inference.onnx_export import EARLIER_RECIPE, SERVED_RECIPE, Int8Recipe

    int8_file = f"{ONNX_DIR}/{INT8_FILE}"
    fused = Int8Recipe(fuse=True)
    rows = [
        Configuration("HF pipeline, 6 layers, batch 1 (baseline)", str(teacher), "hf-pipeline", batch_size=1),
        Configuration("HF pipeline, 6 layers, batch 32", str(teacher), "hf-pipeline"),
    ]
    for layers, model in ((6, teacher), (3, student)):
        variants = {
            "recipe until now": int8_variant(model, scratch, f"{layers}-earlier", EARLIER_RECIPE, texts),
            "served recipe": int8_variant(model, scratch, f"{layers}-served", SERVED_RECIPE, texts),
            "fused graph": int8_variant(model, scratch, f"{layers}-fused", fused, texts),
        }
        rows.append(Configuration(f"ours, {layers} layers, torch fp32", str(model), "torch"))
        rows += [
            Configuration(f"ours, {layers} layers, int8 ({label})", str(folder), "onnx-int8", size_file=int8_file)
            for label, folder in variants.items()
        ]
        # the fp32 graph the served recipe keeps beside its int8 model
        fp32_file = f"{ONNX_DIR}/{FP32_FILE}"
        served = str(variants["served recipe"])
        rows.append(Configuration(f"ours, {layers} layers, openvino", served, "openvino", size_file=fp32_file))
    return rows


# --- one measurement, in a process of its own --------------------------------------------------------------------


def predictor_of(config: Configuration):
    """A function from texts to labels for ``config``."""
    if config.engine == "hf-pipeline":
        from transformers import pipeline

        classify = pipeline("text-classification", model=config.model_dir, device=-1, truncation=True, max_length=128)
        return lambda texts: [r["label"] for r in classify(texts, batch_size=config.batch_size)]
    from sentiment_lib.inference.predictor import SentimentPredictor

    predictor = SentimentPredictor.from_directory(config.model_dir, backend=config.engine)
    return lambda texts: predictor.predict(texts).labels


def evaluation_sets(workspace: Path) -> dict[str, pd.DataFrame]:
    held_out = pd.read_csv(workspace / "data" / "processed" / "test.csv")
    return {
        "sst2": importers.import_sst2(SHARED / "sst2", splits=("test",)).frame,
        "airline": importers.import_airline(SHARED / "airline" / "Tweets.csv").frame,
        "reviews": held_out[held_out["domain"] != "movies"],
    }


def measure(config: Configuration, workspace: Path, with_accuracy: bool) -> dict:
    """Sentences/s on SST-2 test, accuracy on each set (when asked), peak RSS."""
    if config.engine == "hf-pipeline":
        # the only row whose threads nobody else sets; torch is imported for it alone, so that the RSS column
        # of the other rows is their back-end's own
        import torch

        from sentiment_lib.inference.predictor import default_threads

        torch.set_num_threads(default_threads())
    sets = evaluation_sets(workspace)
    predict = predictor_of(config)
    texts = sets["sst2"][TEXT_COLUMN].tolist()
    # warm-up: one whole pass, so that every padded width has been seen once (OpenVINO prepares its kernels
    # per input shape; a server meets the same widths again and again)
    predict(texts)
    started = time.perf_counter()
    labels = predict(texts)
    result: dict = {"rate": len(texts) / (time.perf_counter() - started)}
    if with_accuracy:
        others = {name: predict(sets[name][TEXT_COLUMN].tolist()) for name in ("airline", "reviews")}
        answers = {"sst2": labels, **others}
        result["accuracy"] = {
            name: 100 * float((np.array(answers[name]) == sets[name][LABEL_COLUMN].to_numpy()).mean()) for name in sets
        }
    result["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


def measure_in_child(config: Configuration, workspace: Path, with_accuracy: bool) -> dict:
    request = json.dumps({"config": asdict(config), "workspace": str(workspace), "accuracy": with_accuracy})
    env = os.environ | {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    done = subprocess.run(
        [sys.executable, __file__, "--measure", request], capture_output=True, text=True, env=env, check=False
    )
    if done.returncode:
        raise RuntimeError(f"{config.name} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# --- the table ---------------------------------------------------------------------------------------------------


def table_rows(configs: list[Configuration], results: dict[str, list[dict]]) -> list[list]:
    medians = {name: statistics.median(r["rate"] for r in runs) for name, runs in results.items()}
    rows = []
    for config in configs:
        runs = results[config.name]
        rates = [r["rate"] for r in runs]
        accuracy = runs[0]["accuracy"]
        size = (Path(config.model_dir) / config.size_file).stat().st_size / 1e6
        rows.append(
            [
                config.name,
                f"{medians[config.name]:,.0f} ({min(rates):,.0f}–{max(rates):,.0f})",
                f"{medians[config.name] / medians[TODAY]:.2f}×",
                accuracy["sst2"],
                accuracy["airline"],
                accuracy["reviews"],
                f"{size:,.0f}",
                f"{max(r['rss_mb'] for r in runs):,.0f}",
            ]
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", default=str(REPO / "benchmarks" / ".work" / "inference"))
    parser.add_argument("--rounds", type=int, default=5, help="interleaved timing rounds per configuration")
    parser.add_argument("--measure", help=argparse.SUPPRESS)  # the child process's request
    args = parser.parse_args()
    if args.measure:
        request = json.loads(args.measure)
        print(json.dumps(measure(Configuration(**request["config"]), Path(request["workspace"]), request["accuracy"])))
        return
    workspace = Path(args.workspace).resolve()
    student, teacher = trained_student(workspace)
    configs = configurations(student, teacher, workspace / "int8-variants", calibration_texts(workspace))
    results: dict[str, list[dict]] = {config.name: [] for config in configs}
    for round_number in range(args.rounds):
        for config in configs:
            results[config.name].append(measure_in_child(config, workspace, with_accuracy=round_number == 0))
            print(f"round {round_number + 1}: {config.name}: {results[config.name][-1]['rate']:,.0f}/s", flush=True)
    print_table(
        f"SST-2 test (1,821 sentences), {machine_summary()}; sentences/s: median (min–max) of {args.rounds} rounds",
        ["configuration", "sentences/s", "× today", "SST-2 %", "airline %", "reviews %", "MB", "RSS MB"],
        table_rows(configs, results),
    )


if __name__ == "__main__":
    main()
