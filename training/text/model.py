"""The text classifier: jieba words and character n-grams, TF-IDF, a calibrated linear SVM.

``build_text_pipeline`` is what training fits. ``TextScorer`` answers from the fitted pipeline
without sklearn's per-call overhead (input validation, sparse-matrix assembly), which costs ten
times the work itself on one short text, and scores a batch as one computation over the
batch's term counts (``terms.TextBatch``, shared by every model that cuts texts alike); it
reads the same fitted vocabulary, IDF weights, coefficients and calibrators, and the tests
hold it to the pipeline's own probabilities.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import mlflow.pyfunc
import numpy as np
import pandas as pd
from pandas._libs.hashtable import Int64HashTable, PyObjectHashTable
from scipy.sparse._sparsetools import csr_matvecs
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.svm import LinearSVC

from training.text.features import char_view, normalize_text, tokenize
from training.text.review import ReviewRule
from training.text.terms import (
    MAX_CODED_CHARS,
    TermCounts,
    TextBatch,
    char_ngram_counts,
    ngram_code,
    word_ngrams,
)

# The feature views a text model may read; each is searched with a few SVM strengths.
TEXT_VIEWS = ("words+chars", "chars", "words")
SVM_C_VALUES = (0.25, 0.5, 1.0)
DEFAULT_VIEW, DEFAULT_C = "words+chars", 0.5
CALIBRATION_FOLDS = 5


def build_text_pipeline(
    *,
    view: str = DEFAULT_VIEW,
    svm_c: float = DEFAULT_C,
    calibration_folds: int = CALIBRATION_FOLDS,
) -> Pipeline:
    """An unfitted text pipeline: TF-IDF of ``view``, a linear SVM, sigmoid-calibrated."""
    svm = LinearSVC(C=svm_c)
    classifier = CalibratedClassifierCV(svm, method="sigmoid", cv=calibration_folds, ensemble=False)
    return Pipeline([("features", text_features(view)), ("classifier", classifier)])


def text_features(view: str) -> FeatureUnion:
    """TF-IDF blocks of one view: jieba words (1-2-grams), characters (1-3-grams), or both."""
    blocks = {
        # Word bigrams catch negation and phrasing ("不 好用", "没 信号").
        "words": _tfidf(
            preprocessor=normalize_text,
            tokenizer=tokenize,
            token_pattern=None,
            lowercase=False,
            ngram_range=(1, 2),
        ),
        "chars": _tfidf(analyzer="char", preprocessor=char_view, ngram_range=(1, 3)),
    }
    if view not in TEXT_VIEWS:
        raise ValueError(f"unknown text view {view!r}; the views are {', '.join(TEXT_VIEWS)}")
    return FeatureUnion([(name, blocks[name]) for name in view.split("+")])


def _tfidf(**options) -> TfidfVectorizer:
    return TfidfVectorizer(sublinear_tf=True, min_df=2, max_df=0.9, dtype=np.float64, **options)


_ANALYSIS_PARAMS = (
    "analyzer",
    "preprocessor",
    "tokenizer",
    "ngram_range",
    "lowercase",
    "strip_accents",
    "token_pattern",
    "stop_words",
)


@dataclass(frozen=True)
class _FeatureBlock:
    """One fitted TF-IDF vectorizer with the SVM coefficients of its columns."""

    analysis: str  # equal for vectorizers that cut texts the same way, in one process
    count: Callable[[TextBatch], TermCounts]
    columns: Callable[[np.ndarray], np.ndarray]  # the column of each term; unknown: len(idf)
    idf: np.ndarray  # and a 0 for unknown terms
    coef: np.ndarray  # (columns of this block, decision functions), and a row of 0s

    def decisions(self, texts: TextBatch) -> np.ndarray:
        """This block's share of the SVM decision values, one row per text: the batch's
        L2-normalized TF-IDF rows times coef, computed for all the texts at once."""
        counts = texts.term_counts(self.analysis, self.count)
        columns = self.columns(counts.terms)
        values = counts.tf * self.idf[columns]  # 0 for a term this block does not know
        norms = np.sqrt(np.bincount(counts.rows, weights=values * values, minlength=len(texts)))
        values /= np.maximum(norms, np.finfo(float).tiny)[counts.rows]
        decisions = np.zeros((len(texts), self.coef.shape[1]))
        # scipy's own C kernel for a CSR matrix times a dense one, called without building a
        # csr_array (whose checks cost ten times the product for one text).
        csr_matvecs(
            len(texts),
            len(self.idf),
            self.coef.shape[1],
            counts.row_starts,
            columns,
            values,
            self.coef.ravel(),
            decisions.ravel(),
        )
        return decisions


class TextScorer:
    """Calibrated class probabilities for texts, computed from a fitted text pipeline."""

    def __init__(self, pipeline: Pipeline):
        features: FeatureUnion = pipeline.named_steps["features"]
        calibrated: CalibratedClassifierCV = pipeline.named_steps["classifier"]
        if calibrated.method != "sigmoid" or len(calibrated.calibrated_classifiers_) != 1:
            raise ValueError("TextScorer needs one sigmoid-calibrated classifier (ensemble=False)")
        fold = calibrated.calibrated_classifiers_[0]
        self.classes: list[str] = [str(label) for label in calibrated.classes_]
        self._blocks = _feature_blocks(features, fold.estimator.coef_)
        self._intercept = fold.estimator.intercept_.copy()
        self._slope = np.array([c.a_ for c in fold.calibrators])
        self._offset = np.array([c.b_ for c in fold.calibrators])

    def predict_proba(self, texts: TextBatch | Sequence[str]) -> np.ndarray:
        """Probabilities, one row per text, columns in the order of ``classes``.

        Pass a ``TextBatch`` to share the cutting of the texts between models.
        """
        batch = texts if isinstance(texts, TextBatch) else TextBatch(texts)
        decisions = self._intercept + sum(block.decisions(batch) for block in self._blocks)
        return self.calibrated(decisions)

    def calibrated(self, decisions: np.ndarray) -> np.ndarray:
        """The probabilities this model's calibrators give SVM decision values, one row per
        text (one value per class, or one for two classes)."""
        calibrated = 1.0 / (1.0 + np.exp(self._slope * decisions + self._offset))
        if len(self.classes) == 2:
            return np.hstack([1.0 - calibrated, calibrated])
        totals = calibrated.sum(axis=1, keepdims=True)
        uniform = np.full_like(calibrated, 1.0 / len(self.classes))
        return np.divide(calibrated, totals, out=uniform, where=totals > 0)


def _feature_blocks(features: FeatureUnion, coef: np.ndarray) -> list[_FeatureBlock]:
    blocks, offset = [], 0
    for _, vectorizer in features.transformer_list:
        params = vectorizer.get_params()
        width = len(vectorizer.vocabulary_)
        count, columns = _term_counting(vectorizer)
        blocks.append(
            _FeatureBlock(
                analysis=repr([params[name] for name in _ANALYSIS_PARAMS]),
                count=count,
                columns=columns,
                idf=np.append(vectorizer.idf_, 0.0),
                coef=np.vstack([coef[:, offset : offset + width].T, np.zeros(len(coef))]),
            )
        )
        offset += width
    return blocks


def _term_counting(
    vectorizer: TfidfVectorizer,
) -> tuple[Callable[[TextBatch], TermCounts], Callable[[np.ndarray], np.ndarray]]:
    """How ``vectorizer`` counts the terms of a batch, and finds their columns: our character
    view as n-gram codes, our word view from the batch's shared jieba words, any other view
    through scikit-learn's own analyzer."""
    params = vectorizer.get_params()
    low, high = params["ngram_range"]
    view = (params["analyzer"], params["preprocessor"], params["tokenizer"], params["stop_words"])
    terms = sorted(vectorizer.vocabulary_, key=vectorizer.vocabulary_.__getitem__)
    if view == ("char", char_view, None, None) and high <= MAX_CODED_CHARS:
        count = lambda batch: char_ngram_counts(batch, low, high)  # noqa: E731
        keys, table = np.array([ngram_code(term) for term in terms]), Int64HashTable(len(terms))
    else:
        if view == ("word", normalize_text, tokenize, None):
            count = lambda batch: TermCounts.of_lists(  # noqa: E731
                [word_ngrams(words, low, high) for words in batch.words]
            )
        else:
            analyze = vectorizer.build_analyzer()
            count = lambda batch: TermCounts.of_lists([analyze(t) for t in batch.texts])  # noqa: E731
        keys, table = np.array(terms, dtype=object), PyObjectHashTable(len(terms))
    table.map_locations(keys)
    unknown = len(terms)

    def columns(found: np.ndarray) -> np.ndarray:
        at = table.lookup(found)
        return np.where(at >= 0, at, unknown)

    return count, columns


class TextClassifierModel(mlflow.pyfunc.PythonModel):
    """The MLflow model logged for every text classifier.

    Through pyfunc it answers a label, a confidence and whether a person should review the
    answer, per row; the service reads ``scorer`` and ``review`` directly.
    """

    review: ReviewRule | None = None  # versions trained before abstention have none

    def __init__(self, pipeline: Pipeline, *, text_column: str, review: ReviewRule | None = None):
        self.pipeline = pipeline
        self.text_column = text_column
        self.review = review
        self._scorer: TextScorer | None = None

    @property
    def scorer(self) -> TextScorer:
        if self._scorer is None:
            self._scorer = TextScorer(self.pipeline)
        return self._scorer

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_scorer": None}

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        answers = self.answer(model_input[self.text_column].astype(str).tolist())
        return pd.DataFrame(
            {
                "label": answers.labels,
                "confidence": answers.confidence,
                "needs_review": answers.needs_review,
            }
        )

    def answer(self, texts: TextBatch | Sequence[str]) -> TextAnswers:
        """The model's answer for each text: probabilities, best class and whether a person
        should review it (never, for a model without a review rule)."""
        batch = texts if isinstance(texts, TextBatch) else TextBatch(texts)
        probabilities = self.scorer.predict_proba(batch)
        best = probabilities.argmax(axis=1)
        confidence = probabilities[np.arange(len(batch)), best]
        if self.review is None:
            confident, needs_review = np.ones(len(batch), bool), np.zeros(len(batch), bool)
        else:
            confident = self.review.confident(confidence)
            needs_review = self.review.needs_review(confident, batch)
        return TextAnswers(
            self.scorer.classes, probabilities, best, confidence, confident, needs_review
        )


@dataclass(frozen=True)
class TextAnswers:
    """A text model's answers for a batch of texts, one row (or element) per text."""

    classes: list[str]
    probabilities: np.ndarray  # columns in the order of classes
    best: np.ndarray  # the most probable class's column
    confidence: np.ndarray  # its probability
    confident: np.ndarray  # whether an answer this confident is reliable, whatever the text
    needs_review: np.ndarray  # not confident enough, or no evidence in the text

    @property
    def labels(self) -> np.ndarray:
        return np.asarray(self.classes, dtype=object)[self.best]

    def probability(self, label: str) -> np.ndarray:
        return self.probabilities[:, self.classes.index(label)]

    def says(self, label: str) -> np.ndarray:
        """Where the model answers ``label`` and the answer needs no review: a two-class
        model's verdict the CRM may act on (the spam filter's flag)."""
        return (self.best == self.classes.index(label)) & ~self.needs_review
