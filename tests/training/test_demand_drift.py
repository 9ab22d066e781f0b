"""Drifted demand corpora: the base corpus stays as it was; the new wording rewrites one
category only, in words the base corpus does not use for it, which a model trained on the base
corpus misreads and a model given a few hundred corrected texts learns."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest
from sklearn.pipeline import Pipeline
from sklearn.svm import LinearSVC

from training.text.corpus import (
    CORPUS_COLUMNS,
    DRIFTED_WORDINGS,
    generate_demand_records,
    generate_demands,
    generate_drifted_demands,
)
from training.text.features import char_view
from training.text.model import DEFAULT_C, DEFAULT_VIEW, text_features

CATEGORY = DRIFTED_WORDINGS["new-wording"].category
ROWS = 4000


def digest(frame: pd.DataFrame) -> str:
    return hashlib.sha256(frame.to_csv(index=False).encode()).hexdigest()


def fit_classifier(corpus: pd.DataFrame) -> Pipeline:
    """The project's TF-IDF features (jieba words and characters) and a plain linear SVM."""
    demands = corpus[corpus["spam"] == 0]
    classifier = Pipeline(
        [("features", text_features(DEFAULT_VIEW)), ("svm", LinearSVC(C=DEFAULT_C))]
    )
    return classifier.fit(demands["text"], demands["category"])


def right_share(classifier: Pipeline, texts: pd.Series, category: str = CATEGORY) -> float:
    return float((classifier.predict(texts) == category).mean())


def char_bigrams(texts: pd.Series) -> list[str]:
    views = [char_view(text) for text in texts]
    return [view[i : i + 2] for view in views for i in range(len(view) - 1)]


def unseen_share(texts: pd.Series, seen: set[str]) -> float:
    """The share of the texts' character bigrams (occurrences) that ``seen`` lacks."""
    return float(np.mean([bigram not in seen for bigram in char_bigrams(texts)]))


@pytest.fixture(scope="module")
def base_corpus() -> pd.DataFrame:
    return generate_demands(ROWS, seed=0)


@pytest.fixture(scope="module")
def base_classifier(base_corpus) -> Pipeline:
    return fit_classifier(base_corpus)


@pytest.fixture(scope="module")
def base_texts_of_the_category() -> pd.Series:
    """Held-out base texts of the drifted category (another seed, true labels)."""
    records = generate_demand_records(ROWS, seed=1)
    return records["text"][(records["true_category"] == CATEGORY) & (records["true_spam"] == 0)]


@pytest.fixture(scope="module")
def new_texts() -> pd.Series:
    return generate_drifted_demands(400, seed=2, drift="new-wording")["text"]


def test_the_base_corpus_is_the_one_written_before_drifted_corpora_existed():
    # Digests taken before the drift option was added (see test_customer_drift for why they
    # might change on a library upgrade, and why nothing in this repository should).
    assert digest(generate_demands(800, seed=5)) == (
        "50612e43a23aab646f3b3d8479bebc5fe353011c6fac7baecd7b7d996f8124dd"
    )
    assert digest(generate_demand_records(800, seed=5)) == (
        "59c643744359cd60084f48a95cbe09279324ec2b9cc2514c6a106710cebf5f92"
    )


def test_only_the_drifted_categorys_texts_change():
    base = generate_demand_records(3000, seed=1)
    drifted = generate_demand_records(3000, seed=1, drift="new-wording")
    kept = [column for column in base.columns if column not in ("text", "side_category")]
    pd.testing.assert_frame_equal(drifted[kept], base[kept])
    changed = drifted["text"] != base["text"]
    in_category = base["true_category"] == CATEGORY
    assert not (changed & ~in_category).any()
    assert changed[in_category].mean() > 0.97
    assert not drifted["text"].str.contains(r"[{}]").any()  # every slot filled


def test_category_and_spam_shares_hold_across_seeds():
    base = generate_demands(ROWS, seed=0)
    drifted = generate_demands(ROWS, seed=3, drift="new-wording")
    assert abs(drifted["spam"].mean() - base["spam"].mean()) < 0.01
    shares = pd.concat(
        [frame["category"].value_counts(normalize=True) for frame in (base, drifted)], axis=1
    )
    assert (shares.iloc[:, 0] - shares.iloc[:, 1]).abs().max() < 0.02


def test_texts_of_the_new_wording_alone(new_texts):
    again = generate_drifted_demands(400, seed=2, drift="new-wording")
    assert tuple(again.columns) == CORPUS_COLUMNS and len(again) == 400
    assert (again["category"] == CATEGORY).all() and (again["spam"] == 0).all()
    assert again["text"].equals(new_texts)
    assert again["text"].nunique() > 300
    assert not again["text"].str.contains(r"[{}]").any()


def test_the_new_wording_shares_few_terms_with_the_base_texts_of_its_category(
    base_corpus, base_texts_of_the_category, new_texts
):
    seen = set(char_bigrams(base_corpus["text"][base_corpus["category"] == CATEGORY]))
    base_unseen = unseen_share(base_texts_of_the_category, seen)
    new_unseen = unseen_share(new_texts, seen)
    assert base_unseen < 0.25 and new_unseen > 0.5 and new_unseen > 3 * base_unseen


def test_a_model_of_the_base_corpus_misreads_the_new_wording(
    base_classifier, base_texts_of_the_category, new_texts
):
    assert right_share(base_classifier, base_texts_of_the_category) > 0.85
    assert right_share(base_classifier, new_texts) < 0.5


def test_a_few_hundred_corrected_texts_teach_the_new_wording(base_corpus, new_texts):
    drifted = generate_demands(6000, seed=4, drift="new-wording")
    corrected = drifted[drifted["category"] == CATEGORY].head(300)
    assert len(corrected) == 300
    retrained = fit_classifier(pd.concat([base_corpus, corrected]))
    assert right_share(retrained, new_texts) > 0.8


def test_an_unknown_drift_is_refused_by_name():
    with pytest.raises(ValueError, match="new-wording"):
        generate_demands(10, drift="slang")
    with pytest.raises(ValueError, match="new-wording"):
        generate_drifted_demands(10, drift="slang")
