"""The labelling queue's choice: disagreements, drift coverage, uncertainty; near-duplicates once; random seeded."""

from __future__ import annotations

import pytest

from sentiment_lib.labeling import queue


def served(n: int, text: str, confidence: float, sentiment: str = "positive", request_id: str | None = None) -> dict:
    return {
        "time": f"2026-12-06T00:00:{n:02d}.000+00:00",
        "text": text,
        "sentiment": sentiment,
        "confidence": confidence,
        "model_version": "3",
        "request_id": f"r-{n}" if request_id is None else request_id,
    }


def shadow(record: dict, sentiment: str, confidence: float) -> dict:
    return {"request_id": record["request_id"], "text": record["text"], "challenger_version": "4",
            "challenger_sentiment": sentiment, "challenger_confidence": confidence}  # fmt: skip


def test_near_duplicates_count_once_by_their_most_uncertain_and_asked_texts_are_left_out():
    records = [
        served(1, "Flight 123 late AGAIN @united http://t.co/x", 0.9),
        served(2, "flight 456 late again!", 0.6),  # the same words: the more uncertain one stands for both
        served(3, "already labelled", 0.5),
        served(4, "no id", 0.5, request_id=""),
        {**served(5, "cut short", 0.5), "text_chars": 5000},
    ]
    found = queue.candidates_from(records, [], asked={"already labelled"})
    assert [(c.request_id, c.text) for c in found] == [("r-2", "flight 456 late again!")]
    assert queue.near_duplicate_key("Flight 123 late AGAIN @united http://t.co/x") == "flight late again"


def test_active_fills_the_budget_with_disagreements_then_drift_then_uncertainty():
    records = [served(n, f"text number {word}", 0.55 + n * 0.04) for n, word in enumerate("abcdefghij")]
    records.append(served(10, "the wifi was down", 0.97))  # sure, but typical of the drift
    shadows = [shadow(records[9], "negative", 0.9), shadow(records[8], "negative", 0.6),
               shadow(records[7], "positive", 0.9)]  # fmt: skip
    pool = queue.candidates_from(records, shadows, set())
    chosen = queue.choose_active(pool, budget=6, drift_ngrams=["wifi"], seed="s", random_share=0.1)
    # 10% of 6 = 1 drawn at random first, from the whole pool; then 40% = 3 disagreements at most (the most
    # confident first; r-7 agrees), 20% = 2 for the drift (one n-gram: 1), the rest uncertain
    (drawn,) = queue.choose_random(pool, 1, "s")
    assert (chosen[0].candidate, chosen[0].why) == (drawn.candidate, "random")
    rest = [(c.candidate.request_id, c.why) for c in chosen[1:]]
    expected = [("r-9", "disagreement"), ("r-8", "disagreement"), ("r-10", "drift: wifi"), ("r-0", "uncertain"),
                ("r-1", "uncertain"), ("r-2", "uncertain")]  # fmt: skip
    assert rest == [pick for pick in expected if pick[0] != drawn.candidate.request_id][:5]
    assert next(c for c in chosen if c.why == "disagreement").score == pytest.approx(0.9)


def test_a_reused_request_id_is_left_out_and_a_shadow_answer_joins_only_the_same_text():
    records = [served(1, "first text", 0.5, request_id="same"), served(2, "second text", 0.5, request_id="same"),
               served(3, "third text", 0.6, request_id="r-3")]  # fmt: skip
    other_text = {**shadow(records[2], "negative", 0.9), "text": "not the text served as r-3"}
    (found,) = queue.candidates_from(records, [other_text], set())
    assert found.request_id == "r-3" and not found.disputed


def test_a_text_near_duplicating_one_asked_before_is_not_asked_again():
    records = [served(1, "Flight 99 late again @united http://t.co/a", 0.5), served(2, "a new complaint", 0.5)]
    found = queue.candidates_from(records, [], asked={"Flight 12 late again @delta http://t.co/b"})
    assert [c.text for c in found] == ["a new complaint"]


def test_a_drift_ngram_matches_whole_words_only_and_a_short_pool_is_taken_whole():
    records = [served(1, "wifiless cabin", 0.6), served(2, "fine", 0.99)]
    chosen = queue.choose_active(queue.candidates_from(records, [], set()), budget=5, drift_ngrams=["wifi"])
    assert [c.why for c in chosen][1:] == ["uncertain"] and chosen[0].why == "random"  # 20% of 5: one at random
    assert {c.candidate.text for c in chosen} == {"wifiless cabin", "fine"}  # no drift pick: "wifi" is no word here
    assert queue.choose_active(queue.candidates_from(records, [], set()), budget=0, drift_ngrams=[]) == []


def test_random_is_seeded_in_serving_order_and_an_unknown_policy_is_refused():
    pool = queue.candidates_from([served(n, f"text {chr(97 + n)}", 0.9) for n in range(20)], [], set())
    first = queue.choose(pool, 5, "random", [], "42-a", 0.2)
    assert first == queue.choose(pool, 5, "random", [], "42-a", 0.2) != queue.choose(pool, 5, "random", [], "42-b", 0.2)
    ids = [int(c.candidate.request_id[2:]) for c in first]
    assert ids == sorted(ids) and len(ids) == 5 and {c.why for c in first} == {"random"}
    with pytest.raises(ValueError, match="unknown label policy 'greedy'"):
        queue.choose(pool, 5, "greedy", [], 1, 0.2)


def test_the_queue_file_has_the_documented_columns_and_reads_back(tmp_path):
    records = [served(1, "unsure, really", 0.51)]
    pool = queue.candidates_from(records, [], set())
    frame = queue.as_frame(queue.choose_active(pool, 3, [], random_share=0))
    assert list(frame.columns) == queue.QUEUE_COLUMNS
    assert frame.iloc[0]["challenger_confidence"] == "" and frame.iloc[0]["why"] == "uncertain"
    assert frame.iloc[0]["score"] == 0.98 and frame.iloc[0]["champion_confidence"] == 0.51  # rounded to 4 places
    assert queue.as_frame(queue.choose_active(pool, 3, []))["why"].tolist() == ["random"]
    frame.to_csv(tmp_path / "20261206-000000.csv", index=False)
    back = queue.read_queues(tmp_path)
    assert back[["request_id", "Review", "queue"]].values.tolist() == [["r-1", "unsure, really", "20261206-000000.csv"]]
    assert queue.read_queues(tmp_path / "none").empty
