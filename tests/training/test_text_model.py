import numpy as np
import pandas as pd
import pytest

from training.text.model import (
    TEXT_VIEWS,
    AnalyzedText,
    TextClassifierModel,
    TextScorer,
    build_text_pipeline,
    char_ngrams,
    word_ngrams,
)
from training.text.review import ReviewRule

PROBES = [
    "宽带又断网了，师傅什么时候上门",
    "这个月账单多扣了38元？？",
    "想把4G套餐换成5G的",
    "x",
    "！！！",
    "出国漫游流量怎么收费 roaming",
]


@pytest.fixture(scope="module")
def fitted(demand_corpus):
    demands = demand_corpus.dropna(subset=["category"])
    return build_text_pipeline().fit(demands["text"].tolist(), demands["category"].tolist())


@pytest.fixture(scope="module")
def fitted_binary(demand_corpus):
    labels = np.where(demand_corpus["spam"] == 1, "spam", "ham")
    return build_text_pipeline().fit(demand_corpus["text"].tolist(), labels)


def test_scorer_gives_the_pipelines_own_probabilities(fitted, demand_corpus):
    texts = PROBES + demand_corpus["text"].head(200).tolist()
    expected = fitted.predict_proba(texts)
    np.testing.assert_allclose(TextScorer(fitted).predict_proba(texts), expected, atol=1e-9)
    assert TextScorer(fitted).classes == [str(c) for c in fitted.classes_]


def test_a_batch_scores_each_text_as_it_scores_alone(fitted, fitted_binary):
    for pipeline in (fitted, fitted_binary):
        scorer = TextScorer(pipeline)
        alone = np.vstack([scorer.predict_proba([text]) for text in PROBES])
        np.testing.assert_allclose(scorer.predict_proba(PROBES), alone, atol=1e-12)
        assert scorer.predict_proba([]).shape == (0, len(scorer.classes))


def test_scorer_matches_a_binary_pipeline_too(fitted_binary, demand_corpus):
    texts = PROBES + demand_corpus["text"].head(100).tolist()
    np.testing.assert_allclose(
        TextScorer(fitted_binary).predict_proba(texts),
        fitted_binary.predict_proba(texts),
        atol=1e-9,
    )


@pytest.mark.parametrize("view", [view for view in TEXT_VIEWS if view != "words+chars"])
def test_scorer_matches_every_view_selection_may_choose(view, demand_corpus):
    demands = demand_corpus.dropna(subset=["category"])
    pipeline = build_text_pipeline(view=view, svm_c=1.0)
    pipeline.fit(demands["text"].tolist(), demands["category"].tolist())
    texts = PROBES + demand_corpus["text"].head(100).tolist()
    np.testing.assert_allclose(
        TextScorer(pipeline).predict_proba(texts), pipeline.predict_proba(texts), atol=1e-9
    )


def test_word_ngrams_are_scikit_learns():
    from sklearn.feature_extraction.text import TfidfVectorizer

    words = ["宽带", "又", "断网", "了"]
    sklearn_ngrams = TfidfVectorizer(ngram_range=(1, 3))._word_ngrams(words)
    assert sorted(word_ngrams(words, 1, 3)) == sorted(sklearn_ngrams)
    assert word_ngrams(["x"], 1, 2) == ["x"] and word_ngrams([], 1, 2) == []


def test_char_ngrams_are_scikit_learns():
    from sklearn.feature_extraction.text import TfidfVectorizer

    for chars in ["宽带又断网了", "5g", "x", ""]:
        sklearn_ngrams = TfidfVectorizer(analyzer="char", ngram_range=(1, 3))._char_ngrams(chars)
        assert sorted(char_ngrams(chars, 1, 3)) == sorted(sklearn_ngrams)


def test_each_text_is_normalized_once_for_every_view(fitted, monkeypatch):
    import training.text.features
    import training.text.model

    calls = []
    normalize = training.text.features.normalize_text

    def counted(text):
        calls.append(text)
        return normalize(text)

    for module in (training.text.features, training.text.model):
        monkeypatch.setattr(module, "normalize_text", counted)
    TextScorer(fitted).predict_proba([AnalyzedText(text) for text in PROBES])
    assert sorted(calls) == sorted(PROBES)


def test_analyzed_texts_are_cut_once_and_shared_between_models(fitted, fitted_binary):
    analyzed = [AnalyzedText(text) for text in PROBES]
    demand = TextScorer(fitted).predict_proba(analyzed)
    cut = [dict(text._terms) for text in analyzed]
    spam = TextScorer(fitted_binary).predict_proba(analyzed)
    assert [dict(text._terms) for text in analyzed] == cut  # nothing cut a second time
    np.testing.assert_allclose(demand, fitted.predict_proba(PROBES), atol=1e-9)
    np.testing.assert_allclose(spam, fitted_binary.predict_proba(PROBES), atol=1e-9)


def test_a_character_model_answers_and_reviews_without_cutting_words(demand_corpus, monkeypatch):
    import training.text.features

    demands = demand_corpus.dropna(subset=["category"]).head(1500)
    pipeline = build_text_pipeline(view="chars", calibration_folds=2)
    pipeline.fit(demands["text"].tolist(), demands["category"].tolist())
    rule = ReviewRule(0.0, 0.95, 1.0, 1.0, frozenset({"宽带"}))
    model = TextClassifierModel(pipeline, text_column="text", review=rule)

    def no_jieba(text):
        raise AssertionError(f"jieba cut {text!r}")

    monkeypatch.setattr(training.text.features, "_cut", no_jieba)
    answers = model.predict(None, pd.DataFrame({"text": ["宽带又断网了", "你好", "12345"]}))
    assert list(answers["needs_review"]) == [False, True, True]


def test_pyfunc_answers_one_row_per_text(fitted):
    model = TextClassifierModel(fitted, text_column="text")
    answer = model.predict(None, pd.DataFrame({"text": PROBES[:3]}))
    assert list(answer.columns) == ["label", "confidence", "needs_review"]
    assert not answer["needs_review"].any()  # a model without a review rule never asks
    assert len(answer) == 3
    assert answer["label"].tolist() == list(fitted.predict(PROBES[:3]))
    assert answer["confidence"].between(0, 1).all()


def test_the_scorer_is_rebuilt_after_unpickling_not_stored(fitted):
    import pickle

    model = TextClassifierModel(fitted, text_column="text")
    model.scorer.predict_proba(PROBES)
    restored = pickle.loads(pickle.dumps(model))
    assert restored._scorer is None
    np.testing.assert_allclose(
        restored.scorer.predict_proba(PROBES), model.scorer.predict_proba(PROBES)
    )


def test_pyfunc_says_which_answers_need_review(fitted):
    rule = ReviewRule(0.5, 0.95, 0.8, 0.96, frozenset({"宽带", "账单"}))
    model = TextClassifierModel(fitted, text_column="text", review=rule)
    texts = ["宽带又断网了，师傅什么时候上门", "12345", "这个月账单"]
    answer = model.predict(None, pd.DataFrame({"text": texts}))
    expected = [c < 0.5 or i == 1 for i, c in enumerate(answer["confidence"])]
    assert answer["needs_review"].tolist() == expected
    assert answer["needs_review"].iloc[1]  # no evidence, however confident
