from __future__ import annotations

import pandas as pd
import pytest

from sentiment_lib.data import importers
from sentiment_lib.errors import DataValidationError


def test_sst2_reads_quotes_verbatim_and_maps_labels(tmp_path):
    (tmp_path / "train.tsv").write_text('label\tsentence\n1\ta "great" film\n0\tdull , "lifeless\n')
    (tmp_path / "dev.tsv").write_text("label\tcontent\n1\tit 's lovely .\n")
    result = importers.import_sst2(tmp_path)
    assert result.frame["Review"].tolist() == ['a "great" film', 'dull , "lifeless', "it 's lovely ."]
    assert result.frame["Sentiment"].tolist() == ["positive", "negative", "positive"]


def test_sst2_bad_label_and_missing_split(tmp_path):
    (tmp_path / "train.tsv").write_text("label\tsentence\n1\tgood\n7\tweird\n")
    with pytest.raises(DataValidationError, match=r"labels outside the mapping.*\['7'\] \(first at data row 2\)"):
        importers.import_sst2(tmp_path, splits=("train",))
    with pytest.raises(DataValidationError, match="File not found"):
        importers.import_sst2(tmp_path, splits=("dev",))


def airline_csv(tmp_path, created="24-02-2015 11.35"):
    path = tmp_path / "Tweets.csv"
    pd.DataFrame(
        {
            "tweet_id": [1, 2, 3, 4],
            "airline_sentiment": ["negative", "neutral", "positive", "negative"],
            "text": ["@united late again", "@united what?", "@united thanks!", "@delta lost my bag"],
            "tweet_created": [created, "24-02-2015 10.00", "16-02-2015 23.36", "20-02-2015 08.05"],
        }
    ).to_csv(path, index=False)
    return path


def test_airline_drops_neutral_and_orders_by_time(tmp_path):
    result = importers.import_airline(airline_csv(tmp_path))
    assert result.frame["timestamp"].tolist() == [
        "2015-02-16T23:36:00",
        "2015-02-20T08:05:00",
        "2015-02-24T11:35:00",
    ]
    assert result.frame["Sentiment"].tolist() == ["positive", "negative", "negative"]
    assert "1 neutral tweets dropped, 3 kept" in result.notes[0]


def test_airline_bad_timestamp(tmp_path):
    with pytest.raises(DataValidationError, match=r"not '%d-%m-%Y %H\.%M'.*'yesterday'"):
        importers.import_airline(airline_csv(tmp_path, created="yesterday"))


def test_table_csv_and_tsv_with_label_map(tmp_path):
    (tmp_path / "a.csv").write_text("body,stars\nlove it,1\nhate it,0\n")
    (tmp_path / "b.tsv").write_text("body\tstars\nlove it\t1\n")
    mapping = importers.parse_label_map("1=positive, 0=negative")
    result = importers.import_table(tmp_path / "a.csv", "body", "stars", mapping)
    assert result.frame.to_dict("list") == {
        "Review": ["love it", "hate it"],
        "Sentiment": ["positive", "negative"],
        "domain": ["other", "other"],
    }
    assert importers.import_table(tmp_path / "b.tsv", "body", "stars", mapping).frame["Sentiment"].tolist() == [
        "positive"
    ]
    with pytest.raises(DataValidationError, match=r"missing column\(s\) \['text'\]"):
        importers.import_table(tmp_path / "a.csv", "text", "stars")
    with pytest.raises(DataValidationError, match="labels outside the mapping"):
        importers.import_table(tmp_path / "a.csv", "body", "stars")


def test_bad_label_map():
    with pytest.raises(DataValidationError, match="Bad label map entry '1=great'"):
        importers.parse_label_map("1=great")


def test_write_canonical_never_overwrites_silently(tmp_path):
    out = tmp_path / "raw" / "data.csv"
    first = importers.ImportResult(pd.DataFrame({"Review": ["a", "b"], "Sentiment": ["positive", "negative"]}))
    importers.write_canonical(first, out)
    with pytest.raises(DataValidationError, match="exists: pass --append"):
        importers.write_canonical(first, out)
    more = importers.ImportResult(pd.DataFrame({"Review": ["c"], "Sentiment": ["negative"]}))
    with pytest.raises(DataValidationError, match="single class"):
        importers.write_canonical(more, out, mode="append")
    two = importers.ImportResult(pd.DataFrame({"Review": ["c", "d"], "Sentiment": ["negative", "positive"]}))
    importers.write_canonical(two, out, mode="append")
    assert pd.read_csv(out)["Review"].tolist() == ["a", "b", "c", "d"]
    importers.write_canonical(two, out, mode="overwrite")
    assert pd.read_csv(out)["Review"].tolist() == ["c", "d"]
    stamped = importers.ImportResult(two.frame.assign(timestamp=["t1", "t2"]))
    with pytest.raises(DataValidationError, match="Cannot append"):
        importers.write_canonical(stamped, out, mode="append")


def reviews_folder(tmp_path):
    folder = tmp_path / "reviews"
    folder.mkdir()
    (folder / "hotels.csv").write_text(
        'Review,Sentiment,domain\r\nLovely room.,positive,hotels\r\n"Dirty, loud.",negative,Hotels\r\n'
    )
    (folder / "shop.csv").write_text("Review,Sentiment,domain\nWorks fine.,positive,kitchen\nBroke.,negative,tools\n")
    return folder


def test_reviews_reads_every_csv_of_the_folder_or_the_ones_named(tmp_path):
    folder = reviews_folder(tmp_path)
    result = importers.import_reviews(folder)
    assert result.frame["Review"].tolist() == ["Lovely room.", "Dirty, loud.", "Works fine.", "Broke."]
    assert "hotels.csv: 2 rows (hotels 2)" in result.notes[0]
    assert "(kitchen 1, tools 1)" in result.notes[1]
    only = importers.import_reviews(folder, ["shop.csv"])
    assert only.frame["domain"].tolist() == ["kitchen", "tools"]
    with pytest.raises(DataValidationError, match=r"no file\(s\) \['cars.csv'\]; its CSV files: hotels.csv, shop.csv"):
        importers.import_reviews(folder, ["cars.csv"])


def test_reviews_need_a_domain_column_and_good_domain_names(tmp_path):
    folder = reviews_folder(tmp_path)
    (folder / "bad.csv").write_text("Review,Sentiment\nok,positive\n")
    with pytest.raises(DataValidationError, match=r"bad.csv is missing column\(s\) \['domain'\]"):
        importers.import_reviews(folder / "bad.csv")
    (folder / "bad.csv").write_text("Review,Sentiment,domain\nok,positive,Two Words\nno,negative,x\n")
    with pytest.raises(DataValidationError, match=r"bad \w+ \['two words'\] at line\(s\) 2"):
        importers.write_canonical(importers.import_reviews(folder / "bad.csv"), tmp_path / "out.csv")


def test_every_importer_names_its_domain(tmp_path):
    (tmp_path / "train.tsv").write_text("label\tsentence\n1\tgood\n0\tbad\n")
    assert set(importers.import_sst2(tmp_path, splits=("train",)).frame["domain"]) == {"movies"}
    assert set(importers.import_airline(airline_csv(tmp_path)).frame["domain"]) == {"airline"}
    (tmp_path / "a.csv").write_text("body,stars\nlove it,positive\nhate it,negative\n")
    assert set(importers.import_table(tmp_path / "a.csv", "body", "stars", domain="pets").frame["domain"]) == {"pets"}
    assert set(importers.import_table(tmp_path / "a.csv", "body", "stars").frame["domain"]) == {"other"}
    with pytest.raises(DataValidationError, match="Bad domain name 'Big Pets'"):
        importers.import_table(tmp_path / "a.csv", "body", "stars", domain="Big Pets")


def test_appending_domains_to_a_file_written_before_them_says_what_to_do(tmp_path):
    (tmp_path / "old.csv").write_text("Review,Sentiment\ngood,positive\nbad,negative\n")
    with pytest.raises(DataValidationError, match="before domains existed"):
        importers.write_canonical(importers.import_reviews(reviews_folder(tmp_path)), tmp_path / "old.csv", "append")
