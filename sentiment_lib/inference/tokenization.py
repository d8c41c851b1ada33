"""Turn texts into the padded id arrays a model reads, without importing transformers (which imports torch).

What a model reads of a long text (its :class:`Reading`: at most ``max_length`` tokens, cut at the end or
in the middle) is chosen at training and stored beside the weights, so training, evaluation, batch and the
API cut every text the same way.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer

from sentiment_lib.errors import ModelError
from sentiment_lib.inference.model_files import READING_FILE, TOKENIZER_FILE
from sentiment_lib.io import read_json, write_json_atomic
from sentiment_lib.settings import TRUNCATIONS

# head_tail keeps this share of the room at the start and the rest at the end: reviews tend to conclude
# at the end (Sun et al. 2019 found a quarter head, three quarters tail best for long reviews)
HEAD_SHARE = 0.25
# a model saved before readings were stored was served with its first 128 tokens


@dataclass(frozen=True)
class Reading:
    """How much of a text the model reads: at most ``max_length`` tokens, special tokens included, and which
    (``head``: the first ones; ``head_tail``: a quarter from the start and the rest from the end)."""

    max_length: int
    truncation: str = "head"

    def __post_init__(self) -> None:
        if self.max_length < 3 or self.truncation not in TRUNCATIONS:
            raise ModelError(f"Bad reading {self}: max_length >= 3 and truncation one of {TRUNCATIONS}")

    def clip(self, ids: list[int]) -> list[int]:
        """``ids`` (starting and ending with the special tokens) cut to at most ``max_length``."""
        if len(ids) <= self.max_length:
            return ids
        inner = self.max_length - 2
        head = inner if self.truncation == "head" else int(inner * HEAD_SHARE)
        return ids[: 1 + head] + ids[len(ids) - 1 - (inner - head) :]

    def save(self, model_dir: str | Path) -> Path:
        return write_json_atomic(Path(model_dir) / READING_FILE, asdict(self))

    @classmethod
    def load(cls, model_dir: str | Path) -> Reading:
        """The reading stored with a model, or the one models saved before it was stored were served with."""
        return cls(**read_json(Path(model_dir) / READING_FILE, asdict(LEGACY_READING)))


# how models registered before the reading was stored were trained: 128 tokens from the start
LEGACY_READING = Reading(max_length=128, truncation="head")


def untruncated(tokenizer: Tokenizer) -> Tokenizer:
    """``tokenizer`` with its own truncation and padding off: :class:`Reading` cuts, each batch pads."""
    tokenizer.no_padding()
    tokenizer.no_truncation()
    return tokenizer


def load_tokenizer(model_dir: Path) -> Tokenizer:
    """The model's fast tokenizer, straight from ``tokenizer.json`` (the file ``AutoTokenizer`` reads in
    training), with no truncation or padding of its own.

    Raises:
        ModelError: the folder has no ``tokenizer.json``.
    """
    path = Path(model_dir) / TOKENIZER_FILE
    if not path.is_file():
        raise ModelError(f"{model_dir} has no tokenizer.json (save the model with a fast tokenizer)")
    return untruncated(Tokenizer.from_file(str(path)))


def encode(tokenizer: Tokenizer, texts: list[str], reading: Reading) -> list[list[int]]:
    """Token ids of each text as the model reads it (``texts`` already normalised)."""
    return [reading.clip(encoding.ids) for encoding in tokenizer.encode_batch(texts)]


def pad_batch(rows: list[list[int]], width: int, pad_id: int = 0) -> dict[str, np.ndarray]:
    """The model's three inputs for ``rows`` of token ids, each padded (or cut) to ``width``."""
    input_ids = np.full((len(rows), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(rows), width), dtype=np.int64)
    for r, row in enumerate(rows):
        row = row[:width]
        input_ids[r, : len(row)] = row
        mask[r, : len(row)] = 1
    return {"input_ids": input_ids, "attention_mask": mask, "token_type_ids": np.zeros_like(input_ids)}
