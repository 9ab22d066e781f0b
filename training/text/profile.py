"""A text model's reference profile (``training.common.profile``), and the same statistics of
any texts: how long they are and how many of their terms the model never learned.

A term is what the model's own TF-IDF blocks cut from a text (jieba words, character
n-grams); it is out of the vocabulary when no block of the model has a column for it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from training.common.profile import answer_references, numeric_reference, profile_document
from training.text.data import SPAM
from training.text.features import char_view
from training.text.model import TextAnswers, TextClassifierModel

# Bins of a text's out-of-vocabulary share: fixed, since most held-out texts share none.
OOV_SHARE_EDGES = np.array([0.02, 0.05, 0.1, 0.2, 0.35, 0.5])


@dataclass(frozen=True)
class TextStatistics:
    """Per text: its length (characters the model reads) and its out-of-vocabulary share
    (NaN for a text with no term); and the out-of-vocabulary rate over all their terms."""

    lengths: np.ndarray
    oov_shares: np.ndarray
    oov_rate: float


def text_statistics(model: TextClassifierModel, texts: Sequence[str]) -> TextStatistics:
    """Lengths and out-of-vocabulary shares of ``texts`` as ``model`` cuts them."""
    terms, unknown = np.zeros(len(texts)), np.zeros(len(texts))
    for _, vectorizer in model.pipeline.named_steps["features"].transformer_list:
        analyze, vocabulary = vectorizer.build_analyzer(), vectorizer.vocabulary_
        for row, text in enumerate(texts):
            cut = analyze(text)
            terms[row] += len(cut)
            unknown[row] += sum(term not in vocabulary for term in cut)
    with np.errstate(invalid="ignore", divide="ignore"):
        shares = np.where(terms > 0, unknown / terms, np.nan)
    rate = float(unknown.sum() / terms.sum()) if terms.sum() else float("nan")
    lengths = np.array([len(char_view(text)) for text in texts], dtype=float)
    return TextStatistics(lengths, shares, rate)


def text_answer_columns(answers: TextAnswers, *, binary: bool) -> dict[str, list]:
    """A text model's answers in the fields of the classify answer that carry them."""
    if binary:
        return {
            "spam": answers.says(SPAM).tolist(),
            "spam_probability": answers.probability(SPAM).tolist(),
        }
    return {"category": answers.labels.tolist(), "confidence": answers.confidence.tolist()}


def text_profile(
    model_name: str,
    model: TextClassifierModel,
    *,
    training_texts: Sequence[str],
    held_out_texts: Sequence[str],
    binary: bool,
) -> dict:
    """Length bins from the training texts; out-of-vocabulary shares and the answers on the
    held-out texts (training texts are in the vocabulary by construction)."""
    trained = text_statistics(model, training_texts)
    held_out = text_statistics(model, held_out_texts)
    texts = {
        "length": numeric_reference(trained.lengths),
        "oov_share": numeric_reference(held_out.oov_shares, OOV_SHARE_EDGES),
        "oov_rate": held_out.oov_rate,
    }
    columns = text_answer_columns(model.answer(list(held_out_texts)), binary=binary)
    rows = {"training": len(training_texts), "held_out": len(held_out_texts)}
    return profile_document(
        model_name, "text", rows, texts=texts, answers=answer_references(columns)
    )
