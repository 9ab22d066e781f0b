"""Scoring customers' feature records with the customer models, checked against each model's
signature: the service takes a model's input schema from what MLflow recorded, so a model
trained on a user's own table is served the same way."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from mlflow.types import DataType, Schema

from app.core.errors import FieldError, InvalidInputError, NotReadyError, PayloadTooLargeError
from app.services.model_snapshot import ServingModels
from app.services.served_models import CUSTOMER_MODELS, ServedCustomerModel
from training.forest_scorer import ForestScorer

NUMBER_TYPES = {DataType.long, DataType.integer, DataType.double, DataType.float}


def customer_models(
    serving: ServingModels, names: Sequence[str] | None
) -> list[ServedCustomerModel]:
    """The customer models asked for (all four by default), each loaded and ready."""
    wanted = list(names) if names else list(CUSTOMER_MODELS)
    unknown = [name for name in wanted if name not in CUSTOMER_MODELS]
    if unknown:
        raise InvalidInputError(
            f"unknown customer model(s): {', '.join(unknown)}",
            errors=[FieldError("models", f"must be among {', '.join(CUSTOMER_MODELS)}")],
        )
    models = [serving.get(name) for name in wanted]
    missing = [n for n, m in zip(wanted, models) if not isinstance(m, ServedCustomerModel)]
    if missing:
        reasons = "; ".join(f"{n}: {serving.reason(n)}" for n in missing)
        raise NotReadyError(f"not available: {reasons}")
    return models  # type: ignore[return-value]


def check_batch(records: list[dict[str, Any]], *, max_customers: int) -> None:
    if not records:
        raise InvalidInputError(
            "customers is empty", errors=[FieldError("customers", "must not be empty")]
        )
    if len(records) > max_customers:
        raise PayloadTooLargeError(
            f"at most {max_customers} customers per request",
            errors=[
                FieldError("customers", f"{len(records)} customers; the maximum is {max_customers}")
            ],
        )


@dataclass(frozen=True)
class FeatureRule:
    """One input column of a model's signature: what a record must hold there."""

    name: str
    required: bool
    types: tuple[type, ...]  # accepted Python types; empty: anything
    finite: bool  # numbers must be finite (JSON has no NaN, but Python callers do)
    kind: str  # "a number", "a string", ...: for the error message


def feature_rules(schema: Schema) -> tuple[FeatureRule, ...]:
    """The signature's columns as rules, built once per schema and reused by every request."""
    cached = _RULES.get(id(schema))
    if cached is None or cached[0] is not schema:
        if len(_RULES) > 64:  # schemas of swapped-out versions: drop them all now and then
            _RULES.clear()
        cached = _RULES[id(schema)] = (schema, tuple(map(_rule, schema.inputs)))
    return cached[1]


_RULES: dict[int, tuple[Schema, tuple[FeatureRule, ...]]] = {}


def _rule(column) -> FeatureRule:
    if column.type in NUMBER_TYPES:
        return FeatureRule(column.name, column.required, (int, float), True, "a number")
    if column.type == DataType.string:
        return FeatureRule(column.name, column.required, (str,), False, "a string")
    if column.type == DataType.boolean:
        return FeatureRule(column.name, column.required, (bool,), False, "true or false")
    return FeatureRule(column.name, column.required, (), False, str(column.type))


def feature_problems(
    features: dict[str, Any], rules: tuple[FeatureRule, ...], *, field: str
) -> list[FieldError]:
    """Missing and malformed features of one record, by the model's signature rules."""
    problems = []
    for rule in rules:
        value = features.get(rule.name, _ABSENT)
        if value is None:
            continue
        if value is _ABSENT:
            if rule.required:
                problems.append(FieldError(f"{field}.{rule.name}", "missing"))
        elif rule.types and not _fits(value, rule):
            problems.append(FieldError(f"{field}.{rule.name}", f"must be {rule.kind} or null"))
    return problems


_ABSENT = object()


def _fits(value: Any, rule: FeatureRule) -> bool:
    if isinstance(value, bool):  # a subclass of int, but not a number here
        return bool in rule.types
    if not isinstance(value, rule.types):
        return False
    return not rule.finite or math.isfinite(value)


def score_customers(
    records: list[dict[str, Any]],
    models: list[ServedCustomerModel],
    *,
    joint: ForestScorer | None = None,
    field: str = "customers",
) -> list[dict[str, dict]]:
    """Every asked model's answer for every record, in request order; ``joint``: a scorer
    holding the models' targets, which then answers them all in one pass."""
    # Models trained on one table share their rules: check each distinct set once.
    rule_sets = dict.fromkeys(feature_rules(model.input_schema) for model in models)
    problems = [
        problem
        for rules in rule_sets
        for i, record in enumerate(records)
        for problem in feature_problems(record, rules, field=f"{field}[{i}].features")
    ]
    if problems:
        unique = list(dict.fromkeys(problems))
        raise InvalidInputError(f"{len(unique)} missing or malformed feature(s)", errors=unique)
    answers = {model.name: model.answer(records, joint) for model in models}
    return [{name: answers[name][i] for name in answers} for i in range(len(records))]
