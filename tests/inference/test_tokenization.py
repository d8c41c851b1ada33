from __future__ import annotations

import pytest

from sentiment_lib.errors import ModelError
from sentiment_lib.inference.tokenization import Reading

CLS, SEP = 101, 102
LONG = [CLS, *range(1, 21), SEP]  # 22 ids


def test_short_texts_are_read_whole():
    assert Reading(32, "head_tail").clip(LONG) == LONG


def test_head_keeps_the_start_and_the_end_token():
    assert Reading(10, "head").clip(LONG) == [CLS, 1, 2, 3, 4, 5, 6, 7, 8, SEP]


def test_head_tail_keeps_a_quarter_of_the_start_and_the_rest_from_the_end():
    clipped = Reading(10, "head_tail").clip(LONG)
    assert clipped == [CLS, 1, 2, 15, 16, 17, 18, 19, 20, SEP]
    assert len(Reading(128, "head_tail").clip(list(range(1000)))) == 128


def test_a_reading_is_stored_with_the_model_and_old_models_read_128_head_tokens(tmp_path):
    assert Reading.load(tmp_path) == Reading(128, "head")
    Reading(96, "head_tail").save(tmp_path)
    assert Reading.load(tmp_path) == Reading(96, "head_tail")


def test_bad_readings_are_refused():
    with pytest.raises(ModelError, match="truncation"):
        Reading(64, "middle")
