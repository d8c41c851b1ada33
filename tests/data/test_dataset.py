from __future__ import annotations

import pandas as pd
import pytest

from sentiment_lib.data import dataset as data
from sentiment_lib.errors import DataLeakageError, DataValidationError


def write(tmp_path, text: str | bytes, name: str = "reviews.csv"):
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return path


def test_good_file_loads_and_normalises(tmp_path):
    path = write(tmp_path, "Review,Sentiment\n  A   great <br/> film ,Positive\nawful,negative\n")
    frame, report = data.load_reviews(path)
    assert frame["Review"].tolist() == ["A great film", "awful"]
    assert frame["Sentiment"].tolist() == ["positive", "negative"]
    assert report.rows_read == 2 and report.rows_kept == 2 and report.duplicates_dropped == 0


def test_missing_file(tmp_path):
    with pytest.raises(DataValidationError, match="not found"):
        data.load_reviews(tmp_path / "nope.csv")


@pytest.mark.parametrize("content", ["", "  \n"])
def test_empty_file(tmp_path, content):
    with pytest.raises(DataValidationError, match="is empty"):
        data.load_reviews(write(tmp_path, content))


def test_header_without_rows(tmp_path):
    with pytest.raises(DataValidationError, match="no rows"):
        data.load_reviews(write(tmp_path, "Review,Sentiment\n"))


def test_missing_columns_named(tmp_path):
    with pytest.raises(DataValidationError, match=r"missing column\(s\) \['Sentiment'\].*found \['Review', 'label'\]"):
        data.load_reviews(write(tmp_path, "Review,label\ngood,1\n"))


def test_unknown_labels_with_their_lines(tmp_path):
    path = write(tmp_path, "Review,Sentiment\nok,positive\nmeh,neutral\nbad,negative\nhm,3\n")
    with pytest.raises(DataValidationError) as err:
        data.load_reviews(path)
    message = str(err.value)
    assert "2 row(s) with unknown labels ['3', 'neutral']" in message
    assert "line(s) 3, 5" in message


def test_single_class(tmp_path):
    with pytest.raises(DataValidationError, match="single class \\('positive', 2 rows\\)"):
        data.load_reviews(write(tmp_path, "Review,Sentiment\ngood,positive\nfine,positive\n"))


def test_undecodable_bytes_located(tmp_path):
    path = write(tmp_path, b"Review,Sentiment\ngood,positive\ncaf\xe9 bad,negative\n")
    with pytest.raises(DataValidationError, match="not valid UTF-8: undecodable byte 0xe9 at line 3"):
        data.load_reviews(path)


def test_empty_reviews_with_their_lines(tmp_path):
    path = write(tmp_path, 'Review,Sentiment\ngood,positive\n"   ",negative\n,positive\n')
    with pytest.raises(DataValidationError, match=r"2 empty review\(s\) at line\(s\) 3, 4"):
        data.load_reviews(path)


def test_duplicates_dropped_and_counted(tmp_path):
    path = write(
        tmp_path,
        "Review,Sentiment\ngood film,positive\ngood  film,positive\ngood film,negative\nbad,negative\n",
    )
    frame, report = data.load_reviews(path)
    assert len(frame) == 2
    assert report.duplicates_dropped == 2
    assert report.conflicting_duplicates == 1
    assert frame.loc[frame["Review"] == "good film", "Sentiment"].item() == "positive"
    assert "2 duplicate reviews dropped" in report.summary()


def test_extra_columns_are_kept(tmp_path):
    frame, _ = data.load_reviews(write(tmp_path, "Review,Sentiment,timestamp\na,positive,t1\nb,negative,t2\n"))
    assert frame["timestamp"].tolist() == ["t1", "t2"]


def test_normalize_text():
    assert data.normalize_text("  Caf\u0065\u0301\tis<BR>  ok \n") == "Caf\u00e9 is ok"


def balanced(n: int) -> pd.DataFrame:
    return pd.DataFrame(
        {"Review": [f"review number {i}" for i in range(n)], "Sentiment": ["positive", "negative"] * (n // 2)}
    )


def test_split_is_stratified_seeded_and_disjoint():
    frame = balanced(200)
    splits = data.split_reviews(frame, 0.1, 0.2, seed=7)
    assert {name: len(part) for name, part in splits.items()} == {"train": 140, "validation": 20, "test": 40}
    for part in splits.values():
        assert (part["Sentiment"] == "positive").mean() == 0.5
    again = data.split_reviews(frame, 0.1, 0.2, seed=7)
    assert again["test"]["Review"].tolist() == splits["test"]["Review"].tolist()
    texts = [set(part["Review"]) for part in splits.values()]
    assert not (texts[0] & texts[1] or texts[0] & texts[2] or texts[1] & texts[2])


def test_leakage_is_detected():
    a = pd.DataFrame({"Review": ["x", "y"], "Sentiment": ["positive", "negative"]})
    b = pd.DataFrame({"Review": ["y"], "Sentiment": ["negative"]})
    with pytest.raises(DataLeakageError, match="'y' is in both 'train' and 'test'"):
        data.assert_disjoint({"train": a, "test": b})


def test_too_small_to_split():
    with pytest.raises(DataValidationError, match="Cannot split 4 rows"):
        data.split_reviews(balanced(4), 0.1, 0.1, seed=1)


def test_write_and_read_splits(tmp_path):
    frame, report = data.validate_reviews(balanced(100))
    data.write_splits(data.split_reviews(frame, 0.1, 0.1, 3), tmp_path, report)
    assert len(data.read_split(tmp_path, "train")) == 80
    with pytest.raises(DataValidationError, match=r"run `python runner\.py preprocess` first"):
        data.read_split(tmp_path / "missing", "train")


def test_sample_rows():
    frame = balanced(50)
    assert len(data.sample_rows(frame, 10, seed=1)) == 10
    assert data.sample_rows(frame, 0, seed=1) is frame
    assert data.sample_rows(frame, 10, 1)["Review"].tolist() == data.sample_rows(frame, 10, 1)["Review"].tolist()


def test_the_split_keeps_each_domains_share_of_each_label():
    domains = {"movies": (300, 300), "hotels": (160, 40), "tiny": (3, 2)}
    frame = pd.DataFrame(
        [
            {"Review": f"{d} {label} {i}", "Sentiment": label, "domain": d}
            for d, (pos, neg) in domains.items()
            for label, n in (("positive", pos), ("negative", neg))
            for i in range(n)
        ]
    )
    splits = data.split_reviews(frame, 0.1, 0.1, seed=3)
    test = splits["test"]
    assert (test["domain"] == "hotels").sum() == 20 and (test["domain"] == "movies").sum() == 60
    assert ((test["domain"] == "hotels") & (test["Sentiment"] == "positive")).sum() == 16
    table = data.domain_table(splits)
    assert table.loc["hotels", ["train", "validation", "test"]].sum() == 200
    assert table.loc["hotels", "positive share"] == 0.8


def test_bad_domains_are_refused_with_their_lines(tmp_path):
    path = write(tmp_path, "Review,Sentiment,domain\ngood,positive,hotels\nbad,negative,\n")
    with pytest.raises(DataValidationError, match=r"1 row\(s\) with a bad domain \[''\] at line\(s\) 3"):
        data.load_reviews(path)
