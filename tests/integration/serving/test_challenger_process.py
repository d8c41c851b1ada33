"""The shadow challenger's own process: the registered version's answers, on idle CPU time, ended when told or
started again when it died (a few times); a version that does not load is an error, not a process left behind."""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from pathlib import Path

import pytest

from sentiment_lib.errors import ModelError
from sentiment_lib.serving import shadow
from sentiment_lib.serving.challenger_process import LOWEST_NICE, ChallengerProcess, Stopped
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


def start(workspace: Path, version: str, cpu: str = "low", stop: threading.Event | None = None) -> ChallengerProcess:
    """A challenger process (at nice 19 unless ``cpu`` says: CI's busy cores would starve the idle class)."""
    return ChallengerProcess.start(workspace, NAME, version, cpu, stop or threading.Event())  # type: ignore[arg-type]


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


@pytest.mark.skipif(not hasattr(os, "SCHED_IDLE"), reason="Linux's idle scheduling class only")
def test_every_thread_of_the_child_is_in_the_idle_class_or_at_nice_19(two_versions, started):
    idle, low = start(two_versions, "2", "idle"), start(two_versions, "2", "low")
    started.extend([idle, low])
    assert len(threads_of(idle.process.pid)) > 1  # the model's thread pool too, not only the main thread
    assert {os.sched_getscheduler(thread) for thread in threads_of(idle.process.pid)} == {os.SCHED_IDLE}
    assert {os.sched_getscheduler(thread) for thread in threads_of(low.process.pid)} == {os.SCHED_OTHER}
    assert {os.getpriority(os.PRIO_PROCESS, thread) for thread in threads_of(low.process.pid)} == {LOWEST_NICE}
    assert (idle.scheduling, low.scheduling) == ("idle class", f"nice {LOWEST_NICE}")


def test_a_version_that_does_not_load_raises_with_the_childs_reason_and_leaves_no_process(two_versions):
    with pytest.raises(ModelError, match="99"):
        start(two_versions, "99")
    assert not [child for child in multiprocessing.active_children() if child.name.startswith("challenger-")]


def test_a_stop_during_the_load_kills_the_half_loaded_child_at_once(two_versions):
    stop = threading.Event()
    threading.Timer(1.0, stop.set).start()  # long before the model is loaded and warmed up
    began = time.monotonic()
    with pytest.raises(Stopped):
        start(two_versions, "2", stop=stop)
    assert time.monotonic() - began < 5
    assert not [child for child in multiprocessing.active_children() if child.name.startswith("challenger-")]


def test_a_dead_child_fails_its_batch_and_the_holder_starts_another_then_gives_up(two_versions, monkeypatch):
    monkeypatch.setattr(shadow, "MAX_RESTARTS", 1)
    champion = ModelHolder(NAME)
    assert champion.refresh()
    holder = ChallengerHolder(NAME, champion, two_versions, "low")
    try:
        assert holder.refresh() and holder.current is not None and holder.current.version == "2"
        first = holder.current.predictor
        first.process.kill()
        with pytest.raises(ModelError, match="killed by SIGKILL"):
            first.predict(["a text"])
        assert holder.refresh()  # the same version, in a new process
        second = holder.current.predictor
        assert second.process.pid != first.process.pid and second.predict(["a text"]).labels
        second.process.kill()
        second.process.join(5)
        assert not holder.refresh() and holder.current is None  # restarted once already: given up
        assert "after 1 restarts" in holder.last_error and "SIGKILL" in holder.last_error
        assert not holder.refresh() and holder.current is None  # not loaded again until the alias moves
    finally:
        holder.stop()


def test_stop_ends_the_process_and_a_later_batch_says_it_was_stopped(two_versions):
    champion = ModelHolder(NAME)
    assert champion.refresh()
    holder = ChallengerHolder(NAME, champion, two_versions, "low")
    assert holder.refresh() and holder.current is not None
    process = holder.current.predictor
    holder.stop()
    assert holder.current is None
    wait_until(lambda: not process.alive, 10, 0.1, "the challenger's process outlived stop()")
    with pytest.raises(Stopped, match="stopped"):
        process.predict(["a text"])
