"""The test suite's own helpers: wait_until returns what it waited for, or says what did not happen."""

from __future__ import annotations

import itertools

import pytest

from tests.helpers import wait_until


def test_wait_until_returns_the_first_true_answer():
    answers = itertools.chain([None, 0, ConnectionRefusedError()], itertools.repeat("up"))

    def next_answer():
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert wait_until(next_answer, 5, 0.001, "never up", ignore=(OSError,)) == "up"


def test_wait_until_says_what_did_not_happen_and_the_last_error():
    def refused():
        raise ConnectionRefusedError("port 1")

    with pytest.raises(AssertionError, match=r"the server did not start within 0.05 s \(last error: .*port 1"):
        wait_until(refused, 0.05, 0.01, lambda: "the server did not start", ignore=(OSError,))
    with pytest.raises(ValueError):  # an error not named in ignore is the test's failure at once
        wait_until(lambda: int("x"), 5, 0.01, "never")
