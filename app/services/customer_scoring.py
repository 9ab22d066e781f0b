"""Scoring customers' feature records with the customer models, checked against each model's
signature: the service takes a model's input schema from what MLflow recorded, so a model
trained on a user's own table is served the same way."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from mlflow.types import DataType, Schema

from app.core.errors import FieldError, InvalidInputError, NotReadyError, PayloadTooLargeError
from app.services.served_models import CUSTOMER_MODELS, ModelCatalog, ServedCustomerModel

NUMBER_TYPES = {DataType.long, DataType.integer, DataType.double, DataType.float}


def customer_models(
    catalog: ModelCatalog, names: Sequence[str] | None
) -> list[ServedCustomerModel]:
    """The customer models asked for (all four by default), each loaded and ready."""
    wanted = list(names) if names else list(CUSTOMER_MODELS)
    unknown = [name for name in wanted if name not in CUSTOMER_MODELS]
    if unknown:
        raise InvalidInputError(
            f"unknown customer model(s): {', '.join(unknown)}",
            errors=[FieldError("models", f"must be among {', '.join(CUSTOMER_MODELS)}")],
        )
    models = [catalog.get(name) for name in wanted]
    missing = [n for n, m in zip(wanted, models) if not isinstance(m, ServedCustomerModel)]
    if missing:
        reasons = "; ".join(f"{n}: {catalog.failures.get(n, 'still loading')}" for n in missing)
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


def feature_problems(features: dict[str, Any], schema: Schema, *, field: str) -> list[FieldError]:
    """Missing and malformed features of one record, by the model's signature."""
    problems = []
    for column in schema.inputs:
        value = features.get(column.name)
        name = f"{field}.{column.name}"
        if column.name not in features:
            if column.required:
                problems.append(FieldError(name, "missing"))
        elif value is not None and not _fits(value, column.type):
            problems.append(FieldError(name, f"must be {_kind(column.type)} or null"))
    return problems


def _fits(value: Any, kind: DataType) -> bool:
    if kind in NUMBER_TYPES:
        return (
            isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
        )
    if kind == DataType.string:
        return isinstance(value, str)
    if kind == DataType.boolean:
        return isinstance(value, bool)
    return True


def _kind(kind: DataType) -> str:
    return (
        "a number" if kind in NUMBER_TYPES else "a string" if kind == DataType.string else str(kind)
    )


def score_customers(
    records: list[dict[str, Any]], models: list[ServedCustomerModel], *, field: str = "customers"
) -> list[dict[str, dict]]:
    """Every asked model's answer for every record, in request order."""
    problems = [
        problem
        for model in models
        for i, record in enumerate(records)
        for problem in feature_problems(record, model.input_schema, field=f"{field}[{i}].features")
    ]
    if problems:
        unique = list(dict.fromkeys(problems))
        raise InvalidInputError(f"{len(unique)} missing or malformed feature(s)", errors=unique)
    answers = {model.name: model.answer(records) for model in models}
    return [{name: answers[name][i] for name in answers} for i in range(len(records))]
