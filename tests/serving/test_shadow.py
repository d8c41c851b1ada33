"""Shadow scoring off the request path: a put that never waits, a full queue that drops and counts, a challenger
that raises counted and survived, and the shadow log's lines as the labelling queue reads them."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Sequence

import numpy as np
import pytest

from sentiment_lib.inference.predictor import Predictions
from sentiment_lib.serving.challenger_process import Stopped
from sentiment_lib.serving.model_holder import LoadedModel, ModelHolder
from sentiment_lib.serving.served_log import SHADOW_FIELDS, SHADOW_PREFIX, ServedLog, read_shadow
from sentiment_lib.serving.shadow import ChallengerHolder, ShadowScorer


class FixedPredictor:
    """Labels each text by a rule, after an optional wait; raises when told to."""

    backend_name = "onnx-int8"

    def __init__(self, rule=lambda text: "positive", confidence: float = 0.9):
        self.rule, self.confidence = rule, confidence
        self.release = threading.Event()
        self.release.set()
        self.error: Exception | None = None
        self.calls: list[int] = []

    def predict(self, texts: Sequence[str]) -> Predictions:
        self.release.wait(30)
        self.calls.append(len(texts))
        if self.error is not None:
            raise self.error
        labels = [self.rule(t) for t in texts]
        return Predictions(labels, np.full(len(texts), self.confidence), np.zeros(len(texts)))


class Recorder:
    """An observer keeping what it is told, as /metrics counts it."""

    def __init__(self):
        self.scored, self.agreed, self.dropped, self.failed = Counter(), Counter(), Counter(), Counter()

    def observe_shadow(self, challenger_version: str, scored: int, agreed: int) -> None:
        self.scored[challenger_version] += scored
        self.agreed[challenger_version] += agreed

    def observe_shadow_dropped(self, challenger_version: str) -> None:
        self.dropped[challenger_version] += 1

    def observe_shadow_failed(self, challenger_version: str, texts: int) -> None:
        self.failed[challenger_version] += texts


def holders(predictor: FixedPredictor, champion: str = "1", challenger: str = "2") -> ChallengerHolder:
    served = ModelHolder("unused")
    served.current = LoadedModel(FixedPredictor(), champion, "run-1", "2026-01-01T00:00:00+00:00")
    holder = ChallengerHolder("unused", served)
    holder.current = LoadedModel(predictor, challenger, "run-2", "2026-01-02T00:00:00+00:00")
    return holder


STARTED: list[ShadowScorer] = []


@pytest.fixture(autouse=True)
def close_scorers():
    yield
    while STARTED:
        STARTED.pop().close()


def scorer(predictor: FixedPredictor, queue_size: int = 100, share: float = 1.0, **kwargs) -> ShadowScorer:
    STARTED.append(ShadowScorer(holders(predictor), share, queue_size, **kwargs))
    return STARTED[-1]


def offer(shadow: ShadowScorer, count: int, request_id: str = "req") -> int:
    texts = [f"text {n}" for n in range(count)]
    return shadow.offer(texts, ["positive"] * count, [0.8] * count, "1", request_id)


def test_a_full_queue_drops_and_counts_and_the_worker_scores_the_rest():
    predictor, observer = FixedPredictor(), Recorder()
    predictor.release.clear()  # the challenger is busy: nothing leaves the queue
    shadow = scorer(predictor, queue_size=3, observer=observer, max_batch=1)
    try:
        assert offer(shadow, 1, "first") == 1
        time.sleep(0.2)  # the worker has taken it and waits on the challenger
        queued = offer(shadow, 10)
        assert queued == 3 and shadow.dropped == 7 and observer.dropped == {"2": 7}
        assert shadow.health()["shadow_dropped"] == 7 and shadow.health()["shadow_queue_length"] == 3
    finally:
        predictor.release.set()
    assert shadow.wait_idle(10)
    assert observer.scored == {"2": 4} and shadow.state().agreement.texts == 4


def test_the_request_thread_never_waits_for_a_slow_challenger():
    predictor = FixedPredictor()
    predictor.release.clear()
    shadow = scorer(predictor, queue_size=5)
    try:
        started = time.perf_counter()
        for n in range(50):
            offer(shadow, 4, f"req-{n}")
        assert time.perf_counter() - started < 0.5  # 200 texts offered to a challenger that answers none
        assert shadow.dropped >= 195
    finally:
        predictor.release.set()


def test_a_challenger_that_raises_is_counted_and_the_worker_goes_on():
    predictor, observer = FixedPredictor(), Recorder()
    predictor.error = RuntimeError("the challenger is broken")
    shadow = scorer(predictor, observer=observer)
    assert offer(shadow, 5) == 5
    assert shadow.wait_idle(10)
    assert shadow.failed == 5 and observer.failed == {"2": 5} and observer.scored == Counter()
    predictor.error = None  # mended: the same worker scores again
    offer(shadow, 3)
    assert shadow.wait_idle(10)
    assert observer.scored == {"2": 3} and shadow.health()["shadow_failed"] == 5


def test_a_batch_cut_short_by_stopping_the_challenger_is_dropped_not_failed():
    predictor, observer = FixedPredictor(), Recorder()
    predictor.error = Stopped("the challenger's process was stopped")  # closed for a new challenger, or the API
    shadow = scorer(predictor, observer=observer)
    assert offer(shadow, 4) == 4
    assert shadow.wait_idle(10)
    assert (shadow.dropped, shadow.failed) == (4, 0) and observer.dropped == {"2": 4} and observer.failed == Counter()


def test_only_the_sampled_share_is_queued():
    draws = iter([0.05, 0.5, 0.09, 0.95, 0.1])
    shadow = scorer(FixedPredictor(), share=0.1, sample=lambda: next(draws))
    assert offer(shadow, 5) == 2  # 0.05 and 0.09 fall under 0.1


def test_nothing_is_queued_without_a_challenger_or_when_it_is_the_champion():
    shadow = scorer(FixedPredictor())
    assert shadow.offer(["a"], ["positive"], [0.9], "2", "req") == 0  # the answer came from the challenger's version
    shadow.challenger.current = None
    assert offer(shadow, 3) == 0 and shadow.health() == {}  # /health says nothing of shadowing then


def test_each_scored_text_is_one_shadow_line_with_the_contracts_fields(tmp_path):
    predictor = FixedPredictor(rule=lambda text: "negative" if text.endswith("1") else "positive", confidence=0.75)
    log = ServedLog(tmp_path / "shadow", prefix=SHADOW_PREFIX, max_text_chars=20)
    shadow = scorer(predictor, shadow_log=log)
    shadow.offer(["fine", "text 1", "x" * 30], ["positive", "positive", "negative"], [0.9, 0.6, 0.95], "1", "abc")
    assert shadow.wait_idle(10)
    lines = list(read_shadow(tmp_path / "shadow"))
    assert [p.name.startswith("shadow-") for p in (tmp_path / "shadow").iterdir()] == [True]
    assert all(set(SHADOW_FIELDS) | {"time"} <= set(line) for line in lines)
    assert [line["request_id"] for line in lines] == ["abc#0", "abc#1", "abc#2"]
    assert lines[1] == {
        "time": lines[1]["time"],
        "request_id": "abc#1",
        "text": "text 1",
        "champion_version": "1",
        "champion_sentiment": "positive",
        "champion_confidence": 0.6,
        "challenger_version": "2",
        "challenger_sentiment": "negative",
        "challenger_confidence": 0.75,
    }
    assert lines[2]["text"] == "x" * 20 and lines[2]["text_chars"] == 30  # cut as the served log cuts
    state = shadow.state()
    assert (state.agreement.texts, state.agreement.agreed) == (3, 1)
    # both disagreements, the surest first: the lesser confidence is 0.75 for the long text, 0.6 for "text 1"
    assert [d["text"] for d in state.disagreements] == ["x" * 30, "text 1"]


def test_the_shadow_log_keeps_its_own_files_beside_the_served_log(tmp_path):
    served = ServedLog(tmp_path)
    shadow = ServedLog(tmp_path, prefix=SHADOW_PREFIX)
    served.record(["served"], ["positive"], [0.9], "1")
    record = dict.fromkeys(SHADOW_FIELDS, "1") | {"time": "2026-01-01T00:00:00+00:00", "text": "shadowed"}
    assert shadow.append([record]).written == 1
    assert [r["text"] for r in read_shadow(tmp_path)] == ["shadowed"]
    assert sorted(p.name.split("-")[0] for p in tmp_path.iterdir()) == ["served", "shadow"]


def test_a_shadow_write_that_fails_is_counted_not_raised(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    shadow = scorer(FixedPredictor(), shadow_log=ServedLog(blocker / "shadow", prefix=SHADOW_PREFIX))
    offer(shadow, 2)
    assert shadow.wait_idle(10)
    assert shadow.health()["shadow_log_failures"] == 1 and shadow.state().agreement.texts == 2


def test_close_ends_the_worker_after_the_batch_it_is_scoring():
    predictor = FixedPredictor()
    predictor.release.clear()
    shadow = scorer(predictor, max_batch=1)
    offer(shadow, 1)
    time.sleep(0.2)  # the worker waits on the challenger
    closing = threading.Thread(target=shadow.close, kwargs={"timeout": 10})
    closing.start()
    predictor.release.set()
    closing.join(15)
    assert not closing.is_alive() and predictor.calls == [1]
    # this scorer's worker: another test file in the same process may have an app's scorer running
    assert not shadow.running
