"""The data contract shared by every stage: column names, labels, and the one text normalisation.

Training, batch and live prediction all call :func:`normalize_text`, so a text means the same thing to each.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

TEXT_COLUMN = "Review"
LABEL_COLUMN = "Sentiment"
LABELS = ("negative", "positive")
# Where a row comes from: one short lower-case word. The importers name SST-2 rows "movies" and the airline
# tweets "airline"; customer reviews carry their own (clothing, hotels, ...). Files written before domains
# existed read as DEFAULT_DOMAIN.
DOMAIN_COLUMN = "domain"
# why the labelling queue asked for a feedback row's label ("" for labels nobody chose: all of a stream, say)
CHOSEN_AS = "chosen_as"
UNKNOWN_CHOICE = "unknown"  # its chosen_as when why it was asked cannot be told (see data.feedback)
DEFAULT_DOMAIN = "other"
SST2_DOMAIN = "movies"
AIRLINE_DOMAIN = "airline"
DOMAIN_PATTERN = re.compile(r"[a-z][a-z0-9_-]{0,31}")
LABEL_TO_ID = {label: i for i, label in enumerate(LABELS)}
_HTML_BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)
_WHITESPACE = re.compile(r"\s+")


def normalize_text(text: str) -> str:
    """The one text normalisation used by training, batch and live prediction.

    Unicode NFC, HTML line breaks to spaces, runs of white space folded to one space, ends trimmed.
    Case is kept: the tokenizer decides what case means.
    """
    text = unicodedata.normalize("NFC", text)
    text = _HTML_BREAK.sub(" ", text)
    return _WHITESPACE.sub(" ", text).strip()


def is_domain_name(name: str) -> bool:
    return DOMAIN_PATTERN.fullmatch(name) is not None


def labels_to_ids(labels: Iterable[str]) -> list[int]:
    return [LABEL_TO_ID[label] for label in labels]
