import numpy as np
import pandas as pd
import pytest

from training.text.features import char_text, normalize_text
from training.text.model import TEXT_VIEWS, TextClassifierModel, TextScorer, build_text_pipeline
from training.text.review import ReviewRule
from training.text.terms import TextBatch, char_ngram_counts, ngram_code, word_ngrams

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


def test_char_ngram_counts_are_scikit_learns_ngrams_counted():
    from collections import Counter

    from sklearn.feature_extraction.text import TfidfVectorizer

    texts = ["宽带又断网了，断网", "5G", "x", "", "！！！", "啊啊啊啊", "😀 emoji ok", "又断网"]
    counts = char_ngram_counts(TextBatch(texts), 1, 3)
    assert (np.diff(counts.rows) >= 0).all()  # in text order
    for row, text in enumerate(texts):
        chars = char_text(normalize_text(text))
        ngrams = TfidfVectorizer(analyzer="char", ngram_range=(1, 3))._char_ngrams(chars)
        expected = {ngram_code(ngram): n for ngram, n in Counter(ngrams).items()}
        mine = counts.rows == row
        assert dict(zip(counts.terms[mine].tolist(), counts.counts[mine].tolist())) == expected


def test_ngram_codes_differ_for_different_terms():
    terms = ["a", "b", "ab", "ba", "aa", "aaa", "宽", "宽带", "带宽", "宽带网", "\U0010ffff"]
    assert len({ngram_code(term) for term in terms}) == len(terms)


def test_a_batch_is_normalized_in_one_call_for_every_view(fitted, monkeypatch):
    import training.text.features
    import training.text.model
    import training.text.terms

    calls = []
    normalize = training.text.features.normalize_text

    def counted(text):
        calls.append(text)
        return normalize(text)

    for module in (training.text.features, training.text.model, training.text.terms):
        monkeypatch.setattr(module, "normalize_text", counted)
    TextScorer(fitted).predict_proba(TextBatch(PROBES))  # words and characters
    assert len(calls) == 1 and all(text in calls[0] for text in PROBES)


# Texts whose normalization could leak into a neighbour's if the batch were normalized as one
# string carelessly: final sigma, a combining accent first, digits at both ends, blanks.
NEIGHBOURS = ["ΟΔΟΣ", "Σ", "\u0301e", "é\u0301", "138", "0000 号", "", " ", "ＡＢＣ１２", "後臺"]


def test_a_batch_is_normalized_and_cut_as_its_texts_are_one_by_one(demand_corpus):
    texts = NEIGHBOURS + PROBES + demand_corpus["text"].head(300).tolist()
    batch = TextBatch(texts)
    assert batch.normalized == [normalize_text(text) for text in texts]
    alone = [char_ngram_counts(TextBatch([text]), 1, 3) for text in texts]
    together = char_ngram_counts(batch, 1, 3)
    for row, counts in enumerate(alone):
        mine = together.rows == row
        assert dict(zip(together.terms[mine].tolist(), together.counts[mine])) == (
            dict(zip(counts.terms.tolist(), counts.counts))
        )


def test_a_batch_holding_the_joining_letter_is_taken_text_by_text(fitted):
    from training.text.terms import _JOINT

    texts = [f"宽带{_JOINT}断网了", "账单不对", f"{_JOINT}"]
    batch = TextBatch(texts)
    assert batch.normalized == [normalize_text(text) for text in texts]
    counts = char_ngram_counts(batch, 1, 3)
    assert sorted(set(counts.rows.tolist())) == [0, 1, 2]
    assert ngram_code(f"带{_JOINT}断") in counts.terms.tolist()
    np.testing.assert_allclose(
        TextScorer(fitted).predict_proba(batch), fitted.predict_proba(texts), atol=1e-9
    )


def test_a_batch_is_cut_once_and_shared_between_models(fitted, fitted_binary):
    analyzed = TextBatch(PROBES)
    demand = TextScorer(fitted).predict_proba(analyzed)
    cut = dict(analyzed._counts)
    assert len(cut) == 2  # words and characters
    spam = TextScorer(fitted_binary).predict_proba(analyzed)
    assert analyzed._counts.keys() == cut.keys()  # nothing cut a second time
    assert all(analyzed._counts[analysis] is counts for analysis, counts in cut.items())
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


def test_a_batch_is_answered_and_reviewed_as_each_text_alone(fitted, demand_corpus):
    from training.text.review import evidence_words

    demands = demand_corpus.dropna(subset=["category"]).head(400)
    words = evidence_words(demands["text"].tolist(), demands["category"].tolist())
    model = TextClassifierModel(
        fitted, text_column="text", review=ReviewRule(0.3, 0.95, 1, 1, words)
    )
    texts = PROBES + demand_corpus["text"].head(40).tolist()  # large enough to be cut by numpy
    together = model.answer(texts)
    alone = [model.answer([text]) for text in texts]
    assert together.needs_review.tolist() == [a.needs_review[0] for a in alone]
    assert together.needs_review.any() and not together.needs_review.all()
    np.testing.assert_allclose(
        together.probabilities, np.vstack([a.probabilities for a in alone]), atol=1e-12
    )
