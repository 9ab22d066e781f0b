"""Scoring customers' feature records with the customer models, checked against each model's
signature: the service takes a model's input schema from what MLflow recorded, so a model
trained on a user's own table is served the same way."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from app.core.errors import FieldError, InvalidInputError, NotReadyError
from app.services.customer_records import record_problems
from app.services.feature_checks import feature_problems
from app.services.model_snapshot import ServingModels
from app.services.served_models import CUSTOMER_MODELS, ServedCustomerModel
from training.customers.scorer import CustomerScorer


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


def check_record(record: dict[str, Any], serving: ServingModels) -> None:
    """A record to store keeps the customer schema's rules (the import's) and holds what each
    loaded customer model's signature needs, so the customer's profile can answer; 422
    naming ``features.<column>`` otherwise."""
    problems = record_problems(record, field="features")
    loaded = [m for m in serving.models.values() if isinstance(m, ServedCustomerModel)]
    for rules in dict.fromkeys(model.feature_rules for model in loaded):
        problems += feature_problems(record, rules, field="features")
    by_field: dict[str, FieldError] = {}
    for problem in problems:  # the schema's reason first, one per field
        by_field.setdefault(problem.field, problem)
    if by_field:
        raise InvalidInputError(
            f"{len(by_field)} missing or malformed feature(s)", errors=list(by_field.values())
        )


def check_batch(records: list[dict[str, Any]], *, max_customers: int) -> None:
    if not records:
        raise InvalidInputError(
            "customers is empty", errors=[FieldError("customers", "must not be empty")]
        )
    if len(records) > max_customers:
        raise InvalidInputError(
            f"at most {max_customers} customers per request",
            errors=[
                FieldError("customers", f"{len(records)} customers; the maximum is {max_customers}")
            ],
        )


def score_customers(
    records: list[dict[str, Any]],
    models: list[ServedCustomerModel],
    *,
    joint: CustomerScorer | None = None,
    field: str = "customers",
) -> list[dict[str, dict]]:
    """Every asked model's answer for every record, in request order; ``joint``: a scorer
    holding the models' targets, which then answers them all in one pass."""
    # Models trained on one table share their rules: check each distinct set once.
    rule_sets = dict.fromkeys(model.feature_rules for model in models)
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
