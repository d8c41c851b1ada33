"""The shadow challenger's own process: the registered version's answers, on idle CPU time, ended when told or
started again when it died; a version that does not load is an error, not a process left behind."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from sentiment_lib.errors import ModelError
from sentiment_lib.serving.challenger_process import LOWEST_NICE, ChallengerProcess
from sentiment_lib.serving.model_holder import ModelHolder
from sentiment_lib.serving.shadow import ChallengerHolder
from sentiment_lib.tracking import registry
from tests.helpers import NAME, new_registry, register_version, save_untrained_model, sst2, wait_until

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def two_versions(tmp_path_factory, small_model) -> Path:
    """A registry with version 1 @champion and version 2 (another head) @challenger."""
    workspace = new_registry(tmp_path_factory.mktemp("challenger"), small_model)
    other = save_untrained_model(tmp_path_factory.mktemp("other-model"), seed=1)
    assert register_version(other, promote=False) == "2"
    return workspace


@pytest.fixture
def started():
    """Challenger processes a test starts, ended after it whatever happened."""
    processes: list[ChallengerProcess] = []
    yield processes
    for process in processes:
        process.close()


def start(workspace: Path, version: str, cpu: str = "idle") -> ChallengerProcess:
    return ChallengerProcess.start(workspace, NAME, version, cpu, threading.Event())  # type: ignore[arg-type]


def threads_of(pid: int) -> list[int]:
    return [int(thread) for thread in os.listdir(f"/proc/{pid}/task")]


def test_the_child_answers_as_the_version_does_in_process(two_versions, started):
    started.append(start(two_versions, "2"))
    texts = sst2("test")["Review"].head(12).tolist()
    answers = started[0].predict(texts)
    expected = registry.load_served_model(NAME, version="2").predictor.predict(texts)
    assert answers.labels == expected.labels
    assert answers.confidences == pytest.approx(expected.confidences, abs=1e-6)
    assert started[0].backend_name == "onnx-int8"


def test_every_thread_of_the_child_is_in_the_idle_class_or_at_nice_19(two_versions, started):
    idle, low = start(two_versions, "2", "idle"), start(two_versions, "2", "low")
    started.extend([idle, low])
    assert len(threads_of(idle.process.pid)) > 1  # the model's thread pool too, not only the main thread
    assert {os.sched_getscheduler(thread) for thread in threads_of(idle.process.pid)} == {os.SCHED_IDLE}
    assert {os.sched_getscheduler(thread) for thread in threads_of(low.process.pid)} == {os.SCHED_OTHER}
    assert {os.getpriority(os.PRIO_PROCESS, thread) for thread in threads_of(low.process.pid)} == {LOWEST_NICE}


def test_a_version_that_does_not_load_raises_with_the_childs_reason(two_versions):
    with pytest.raises(ModelError, match="99"):
        start(two_versions, "99")


def test_a_dead_child_fails_its_batch_and_the_holder_starts_another(two_versions):
    champion = ModelHolder(NAME)
    assert champion.refresh()
    holder = ChallengerHolder(NAME, champion, two_versions, "low")
    try:
        assert holder.refresh() and holder.current is not None and holder.current.version == "2"
        first = holder.current.predictor
        first.process.kill()
        with pytest.raises(ModelError, match="ended"):
            first.predict(["a text"])
        assert holder.refresh()  # the same version, in a new process
        second = holder.current.predictor
        assert second.process.pid != first.process.pid and second.predict(["a text"]).labels
    finally:
        holder.stop()
    assert holder.current is None
    wait_until(lambda: not second.alive, 10, 0.1, "the challenger's process outlived stop()")
    with pytest.raises(ModelError, match="stopped"):
        second.predict(["a text"])
