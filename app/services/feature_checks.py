"""A customer model's input signature as rules, and the check of a feature record against
them: the service takes each model's input schema from what MLflow recorded, so a model
trained on a user's own table is checked the same way."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from mlflow.types import DataType, Schema

from app.core.errors import FieldError

NUMBER_TYPES = {DataType.long, DataType.integer, DataType.double, DataType.float}


@dataclass(frozen=True)
class FeatureRule:
    """One input column of a model's signature: what a record must hold there."""

    name: str
    required: bool
    types: tuple[type, ...]  # accepted Python types; empty: anything
    finite: bool  # numbers must be finite (JSON has no NaN, but Python callers do)
    kind: str  # "a number", "a string", ...: for the error message


def feature_rules(schema: Schema) -> tuple[FeatureRule, ...]:
    """The signature's columns as rules (a served model builds them once, on first use)."""
    return tuple(map(_rule, schema.inputs))


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
        elif rule.types and not fits_rule(value, rule):
            problems.append(FieldError(f"{field}.{rule.name}", f"must be {rule.kind} or null"))
    return problems


_ABSENT = object()


def fits_rule(value: Any, rule: FeatureRule) -> bool:
    """Whether ``value`` (not None) is of the rule's type (a finite number, a string...)."""
    if isinstance(value, bool):  # a subclass of int, but not a number here
        return bool in rule.types
    if not isinstance(value, rule.types):
        return False
    return not rule.finite or math.isfinite(value)
