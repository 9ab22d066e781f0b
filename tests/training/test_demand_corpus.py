"""The built-in demand corpus: shape, reproducibility, and the mess it is meant to have."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pandas as pd
import pytest

from training.text.corpus import (
    CHANNELS,
    CORPUS_COLUMNS,
    DEMAND_CATEGORIES,
    CorpusKnobs,
    generate_demand_records,
    generate_demands,
)

ROWS = 6000


@pytest.fixture(scope="module")
def records() -> pd.DataFrame:
    return generate_demand_records(ROWS, seed=0)


@pytest.fixture(scope="module")
def corpus(records: pd.DataFrame) -> pd.DataFrame:
    return records[list(CORPUS_COLUMNS)]


def demand_rows(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[frame["spam"] == 0]


def test_same_seed_gives_the_same_frame_and_another_seed_another():
    first = generate_demands(500, seed=3)
    pd.testing.assert_frame_equal(first, generate_demands(500, seed=3))
    assert not first["text"].equals(generate_demands(500, seed=4)["text"])


def test_the_frame_does_not_depend_on_the_hash_seed():
    script = (
        "import hashlib; from training.text.corpus import generate_demands; "
        "print(hashlib.sha256(generate_demands(300, seed=5).to_csv().encode()).hexdigest())"
    )
    digests = {
        subprocess.run(
            [sys.executable, "-c", script],
            env={**os.environ, "PYTHONHASHSEED": hash_seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for hash_seed in ("1", "2")
    }
    assert len(digests) == 1


@pytest.mark.parametrize("n", [0, 1, 13, 777])
def test_n_is_respected_exactly(n):
    assert len(generate_demands(n, seed=1)) == n


def test_columns_and_types(corpus):
    assert tuple(corpus.columns) == ("text", "category", "spam", "channel")
    assert all(isinstance(text, str) and text.strip() for text in corpus["text"])
    assert corpus["spam"].dtype.kind == "i"
    assert set(corpus["spam"]) == {0, 1}
    assert set(corpus["channel"]) == set(CHANNELS)
    assert set(corpus["category"].dropna()) == set(DEMAND_CATEGORIES)


def test_at_least_twelve_distinct_categories():
    assert len(DEMAND_CATEGORIES) >= 12
    assert len(set(DEMAND_CATEGORIES)) == len(DEMAND_CATEGORIES)


def test_spam_rows_have_no_category_and_demand_rows_all_have_one(corpus):
    spam = corpus[corpus["spam"] == 1]
    assert spam["category"].isna().all()
    assert demand_rows(corpus)["category"].notna().all()


def test_spam_share(corpus):
    assert 0.12 <= corpus["spam"].mean() <= 0.15


def test_categories_are_roughly_balanced(corpus):
    counts = demand_rows(corpus)["category"].value_counts()
    assert len(counts) == len(DEMAND_CATEGORIES)
    assert counts.min() >= 0.75 * counts.mean()
    assert counts.max() <= 1.25 * counts.mean()


def test_rows_are_shuffled(corpus):
    first_half = corpus["category"].head(ROWS // 2).dropna()
    assert first_half.nunique() == len(DEMAND_CATEGORIES)
    assert 0.08 < corpus["spam"].head(ROWS // 2).mean() < 0.18


def test_lengths_spread_from_vague_to_rambling(corpus):
    lengths = corpus["text"].str.len()
    assert (lengths <= 12).mean() >= 0.05
    assert (lengths >= 80).mean() >= 0.03
    assert lengths.max() <= 220


def test_texts_mix_chinese_with_latin_letters_and_digits(corpus):
    texts = corpus["text"]
    assert texts.str.contains(r"[\u4e00-\u9fff]").mean() > 0.99
    assert texts.str.contains(r"[A-Za-z]").mean() > 0.1
    assert texts.str.contains(r"\d").mean() > 0.1
    for token in ("5G", "WiFi", "APP", "10086", "VoLTE", "eSIM"):
        assert texts.str.contains(token, regex=False).any(), token


def test_typos_and_agent_notes_occur(corpus):
    texts = corpus["text"]
    assert texts.str.contains("流亮|宽代|信好|套参").sum() >= 20
    hotline = texts[corpus["channel"] == "热线"]
    assert hotline.str.contains("来电|客户反映|用户咨询").mean() > 0.3


def test_a_fifth_or_so_of_demands_touch_a_second_category(records):
    demands = demand_rows(records).dropna(subset=["true_category"])
    second = demands["side_category"]
    assert 0.15 <= second.notna().mean() <= 0.3
    touched = demands[second.notna()]
    assert (touched["side_category"] != touched["true_category"]).all()


def test_label_noise_stays_in_its_documented_band(records):
    labelled = records.dropna(subset=["category", "true_category"])
    flipped = labelled["category"] != labelled["true_category"]
    assert 0.02 <= flipped.mean() <= 0.04


def test_spam_flag_noise_keeps_the_spam_share(records):
    wrong = records["spam"] != records["true_spam"]
    assert 0.035 <= wrong.mean() <= 0.055
    assert records["spam"].sum() == records["true_spam"].sum()


def test_without_noise_labels_are_the_truth():
    quiet = generate_demand_records(
        800, seed=2, knobs=CorpusKnobs(label_noise=0, spam_label_noise=0)
    )
    assert quiet["category"].equals(quiet["true_category"])
    assert quiet["spam"].equals(quiet["true_spam"])


def test_spam_borrows_the_vocabulary_of_legitimate_texts(corpus):
    demands, spam = demand_rows(corpus)["text"], corpus[corpus["spam"] == 1]["text"]
    link = re.compile(r"https?://|www\.|hxxp")
    assert demands.str.contains(link).sum() >= 20  # customers forwarding scams they received
    for word in ("积分", "话费", "流量", "套餐"):
        assert demands.str.contains(word).any() and spam.str.contains(word).any(), word
