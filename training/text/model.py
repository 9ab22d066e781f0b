"""The text classifier: jieba words and character n-grams, TF-IDF, a calibrated linear SVM.

``build_text_pipeline`` is what training fits. ``TextScorer`` answers from the fitted pipeline
without sklearn's per-call overhead (input validation, sparse-matrix assembly), which costs ten
times the work itself on one short text; it reads the same fitted vocabulary, IDF weights,
coefficients and calibrators, and the tests hold it to the pipeline's own probabilities.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import mlflow.pyfunc
import numpy as np
import pandas as pd
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.svm import LinearSVC

from training.text.features import char_text, char_view, evidence_terms, normalize_text, tokenize
from training.text.review import ReviewRule

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


class AnalyzedText:
    """A text, its jieba words and its terms per analysis, cut once however many models read
    them."""

    __slots__ = ("text", "_normalized", "_words", "_evidence", "_terms")

    def __init__(self, text: str):
        self.text = text
        self._normalized: str | None = None
        self._words: list[str] | None = None
        self._evidence: list[str] | None = None
        self._terms: dict[str, list[str]] = {}

    @property
    def normalized(self) -> str:
        """The text as every feature view reads it (``normalize_text``)."""
        if self._normalized is None:
            self._normalized = normalize_text(self.text)
        return self._normalized

    @property
    def words(self) -> list[str]:
        """The jieba words of the normalized text (what word n-grams read)."""
        if self._words is None:
            self._words = tokenize(self.normalized)
        return self._words

    @property
    def evidence_terms(self) -> list[str]:
        """The dictionary-free terms a review rule's evidence check reads (``evidence_terms``)."""
        if self._evidence is None:
            self._evidence = evidence_terms(self.normalized)
        return self._evidence

    def terms(self, block: _FeatureBlock) -> list[str]:
        found = self._terms.get(block.analysis)
        if found is None:
            found = self._terms[block.analysis] = block.analyze(self)
        return found


@dataclass(frozen=True)
class _FeatureBlock:
    """One fitted TF-IDF vectorizer with the SVM coefficients of its columns."""

    analysis: str  # equal for vectorizers that cut texts the same way, in one process
    analyze: Callable[[AnalyzedText], list[str]]
    vocabulary: dict[str, int]
    idf: np.ndarray
    coef: np.ndarray  # (columns of this block, decision functions)

    def decisions(self, texts: Sequence[AnalyzedText]) -> np.ndarray:
        """This block's share of the SVM decision values, one row per text: the batch's
        L2-normalized TF-IDF rows times coef, computed for all the texts at once."""
        vocabulary, width = self.vocabulary, len(self.idf)
        cells = []  # row * width + column, once per occurrence of a known term
        for row, text in enumerate(texts):
            first = row * width
            cells.extend(
                first + column
                for term in text.terms(self)
                if (column := vocabulary.get(term)) is not None
            )
        decisions = np.zeros((len(texts), self.coef.shape[1]))
        if not cells:
            return decisions
        cells, counts = np.unique(np.asarray(cells, dtype=np.int64), return_counts=True)
        rows, columns = np.divmod(cells, width)
        values = (1.0 + np.log(counts)) * self.idf[columns]  # sublinear tf
        values /= np.sqrt(np.bincount(rows, weights=values * values))[rows]
        starts = np.flatnonzero(np.diff(rows, prepend=-1))  # cells come sorted by row
        decisions[rows[starts]] = np.add.reduceat(values[:, None] * self.coef[columns], starts)
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

    def predict_proba(self, texts: Sequence[str | AnalyzedText]) -> np.ndarray:
        """Probabilities, one row per text, columns in the order of ``classes``.

        Pass ``AnalyzedText`` objects to share the cutting of a text between models.
        """
        analyzed = [_analyzed(text) for text in texts]
        decisions = self._intercept + sum(block.decisions(analyzed) for block in self._blocks)
        return self.calibrated(decisions)

    def calibrated(self, decisions: np.ndarray) -> np.ndarray:
        """The probabilities this model's calibrators give SVM decision values, one row per
        text (one value per class, or one for two classes)."""
        calibrated = 1.0 / (1.0 + np.exp(self._slope * decisions + self._offset))
        if len(self.classes) == 2:
            return np.column_stack([1.0 - calibrated[:, 0], calibrated[:, 0]])
        totals = calibrated.sum(axis=1, keepdims=True)
        uniform = np.full_like(calibrated, 1.0 / len(self.classes))
        return np.divide(calibrated, totals, out=uniform, where=totals > 0)


def _analyzed(text: str | AnalyzedText) -> AnalyzedText:
    return text if isinstance(text, AnalyzedText) else AnalyzedText(text)


def _feature_blocks(features: FeatureUnion, coef: np.ndarray) -> list[_FeatureBlock]:
    blocks, offset = [], 0
    for _, vectorizer in features.transformer_list:
        params = vectorizer.get_params()
        width = len(vectorizer.vocabulary_)
        blocks.append(
            _FeatureBlock(
                analysis=repr([params[name] for name in _ANALYSIS_PARAMS]),
                analyze=_analyzer(vectorizer),
                vocabulary=dict(vectorizer.vocabulary_),
                idf=vectorizer.idf_.copy(),
                coef=np.ascontiguousarray(coef[:, offset : offset + width].T),
            )
        )
        offset += width
    return blocks


def _analyzer(vectorizer: TfidfVectorizer) -> Callable[[AnalyzedText], list[str]]:
    """How ``vectorizer`` cuts a text: our own views from the text's shared normalization and
    jieba words, any other through scikit-learn."""
    params = vectorizer.get_params()
    low, high = params["ngram_range"]
    view = (params["analyzer"], params["preprocessor"], params["tokenizer"], params["stop_words"])
    if view == ("word", normalize_text, tokenize, None):
        return lambda text: word_ngrams(text.words, low, high)
    if view == ("char", char_view, None, None):
        return lambda text: char_ngrams(char_text(text.normalized), low, high)
    analyze = vectorizer.build_analyzer()
    return lambda text: analyze(text.text)


def char_ngrams(chars: str, low: int, high: int) -> list[str]:
    """The ``low``- to ``high``-character n-grams of ``chars``, as scikit-learn's "char"
    analyzer takes them from a text without whitespace."""
    return [
        chars[start : start + n]
        for n in range(low, min(high, len(chars)) + 1)
        for start in range(len(chars) - n + 1)
    ]


def word_ngrams(words: list[str], low: int, high: int) -> list[str]:
    """The ``low``- to ``high``-grams of ``words``, joined by spaces as scikit-learn does."""
    return [
        " ".join(words[start : start + n])
        for n in range(low, high + 1)
        for start in range(len(words) - n + 1)
    ]


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
        texts = [AnalyzedText(text) for text in model_input[self.text_column].astype(str)]
        probabilities = self.scorer.predict_proba(texts)
        best = probabilities.argmax(axis=1)
        confidence = probabilities[np.arange(len(texts)), best]
        return pd.DataFrame(
            {
                "label": np.asarray(self.scorer.classes, dtype=object)[best],
                "confidence": confidence,
                "needs_review": [
                    self.needs_review(score, text) for score, text in zip(confidence, texts)
                ],
            }
        )

    def needs_review(self, confidence: float, text: AnalyzedText) -> bool:
        """Whether a person should look at this answer (never, for a model without a rule):
        too little confidence, or no evidence in the text (looked for only when confident)."""
        review = self.review
        if review is None:
            return False
        return not review.confident(confidence) or not review.has_evidence(review.terms_of(text))

    def confident(self, confidence: float) -> bool:
        """Whether an answer this confident is reliable, whatever the text holds."""
        return self.review is None or self.review.confident(confidence)
