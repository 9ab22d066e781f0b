"""Classifying customer demand texts: validation, the demand model and the spam filter."""

from __future__ import annotations

import re

import numpy as np

from app.core.errors import FieldError, InvalidInputError, NotReadyError
from app.services.model_snapshot import ServingModels
from app.services.served_models import ServedTextModel
from training.text.data import SPAM as SPAM_LABEL
from training.text.terms import TextBatch

DEMAND_MODEL, SPAM_MODEL = "demand-classifier", "spam-filter"
_HALF_SURROGATE = re.compile("[\ud800-\udfff]")
TOP_K = 3


def texts_to_classify(
    text: str | None, texts: list[str] | None, *, max_texts: int, max_chars: int
) -> list[str]:
    """The texts of a request, checked against the documented limits."""
    if (text is None) == (texts is None):
        raise InvalidInputError(
            "give exactly one of text or texts",
            errors=[FieldError("text", "give exactly one of text or texts")],
        )
    field, batch = ("text", [text]) if texts is None else ("texts", texts)
    if not batch:
        raise InvalidInputError("texts is empty", errors=[FieldError("texts", "must not be empty")])
    if len(batch) > max_texts:
        raise InvalidInputError(
            f"at most {max_texts} texts per request",
            errors=[FieldError("texts", f"{len(batch)} texts; the maximum is {max_texts}")],
        )
    problems = [
        FieldError(_name(field, i, texts), rule)
        for i, item in enumerate(batch)
        if (rule := text_rule(item, max_chars))
    ]
    if problems:
        raise InvalidInputError(f"{len(problems)} invalid text(s)", errors=problems)
    return batch


def _name(field: str, index: int, texts: list[str] | None) -> str:
    return f"{field}[{index}]" if texts is not None else field


def text_rule(text: str, max_chars: int) -> str | None:
    if not text.strip():
        return "must not be empty or whitespace"
    if len(text) > max_chars:
        return f"longer than {max_chars} characters"
    if _HALF_SURROGATE.search(text):
        return "holds half a surrogate pair (a \\ud800-\\udfff escape alone): not Unicode text"
    return None


def classify_demands(texts: list[str], models: ServingModels) -> dict:
    """Category, confidence, top categories, the spam verdict and whether a person should
    review the answer, for each text.

    An answer needs review when either model is less sure of it than its training showed to be
    reliable, or the text holds no word the demand model learned from. The spam flag is raised
    only when the spam filter is sure and has words of its own to go on.
    """
    demand_model, spam_model = _required(models, DEMAND_MODEL), _required(models, SPAM_MODEL)
    batch = TextBatch(texts)  # cut once, read by both models
    demand, spam = demand_model.answer(batch), spam_model.answer(batch)
    categories = demand.classes
    top = np.argsort(-demand.probabilities, axis=1, kind="stable")[:, :TOP_K]
    ranked = demand.probabilities[np.arange(len(texts))[:, None], top]
    results = [
        {
            "category": categories[best[0]],
            "confidence": round(probabilities[0], 4),
            "top_categories": [
                {"category": categories[i], "probability": round(p, 4)}
                for i, p in zip(best, probabilities)
            ],
            "spam": spam_flag,
            "spam_probability": round(spam_probability, 4),
            "needs_review": needs_review,
        }
        for best, probabilities, spam_flag, spam_probability, needs_review in zip(
            top.tolist(),
            ranked.tolist(),
            spam.says(SPAM_LABEL).tolist(),
            spam.probability(SPAM_LABEL).tolist(),
            (demand.needs_review | ~spam.confident).tolist(),
        )
    ]
    return {"results": results, "models": [demand_model.ref(), spam_model.ref()]}


def _required(models: ServingModels, name: str) -> ServedTextModel:
    model = models.get(name)
    if not isinstance(model, ServedTextModel):
        raise NotReadyError(f"{name} is not available: {models.reason(name)}")
    return model
