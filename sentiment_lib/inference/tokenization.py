"""Turn texts into the padded id arrays a model reads, without importing transformers (which imports torch)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from tokenizers import Tokenizer

from sentiment_lib.errors import ModelError
from sentiment_lib.inference.model_files import TOKENIZER_FILE


def load_tokenizer(model_dir: Path, max_length: int) -> Tokenizer:
    """The model's fast tokenizer, straight from ``tokenizer.json``, truncating at ``max_length``.

    The same file ``AutoTokenizer`` reads in training.

    Raises:
        ModelError: the folder has no ``tokenizer.json``.
    """
    path = Path(model_dir) / TOKENIZER_FILE
    if not path.is_file():
        raise ModelError(f"{model_dir} has no tokenizer.json (save the model with a fast tokenizer)")
    tokenizer = Tokenizer.from_file(str(path))
    tokenizer.no_padding()  # each batch is padded to its own longest row instead
    tokenizer.enable_truncation(max_length)
    return tokenizer


def pad_batch(rows: list[list[int]], width: int, pad_id: int = 0) -> dict[str, np.ndarray]:
    """The model's three inputs for ``rows`` of token ids, each padded (or cut) to ``width``."""
    input_ids = np.full((len(rows), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(rows), width), dtype=np.int64)
    for r, row in enumerate(rows):
        row = row[:width]
        input_ids[r, : len(row)] = row
        mask[r, : len(row)] = 1
    return {"input_ids": input_ids, "attention_mask": mask, "token_type_ids": np.zeros_like(input_ids)}
