"""The OpenAPI document: every status, content type and rule the service really holds to.

A schema-valid request is answered 2xx (or 401, 403, 404, 429, 503); so the document carries
the deployment's limits (batch sizes, text length) and, once the models are loaded, the
feature columns their signatures need and the customer schema's rules for a stored record.

A route declares the answers that are its own (404 for an unknown customer, 503 while the app
database is down) with ``problem(...)``. The answers that follow from how a route is built are
added here, once and the same for every route: 401, 403 and 429 where an API key is checked;
400 and 413 where a body is read; 422 where there is a body or a parameter to validate. Every
error is ``application/problem+json`` with the ``Problem`` schema, FastAPI's own 422 included
(it documents that one as ``application/json``, which is not what the service sends).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI

from app.api.schemas import Problem
from app.core.config import Settings
from app.core.errors import PROBLEM_JSON
from app.services.customer_records import KNOWN_COLUMNS, WHOLE_NUMBER_LIMIT
from app.services.feature_checks import FeatureRule
from app.services.feedback import FeedbackVocabulary
from app.services.served_models import CUSTOMER_MODELS, ServedCustomerModel, ServedModel

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before trying again.",
        "schema": {"type": "integer"},
    }
}


def problem(description: str, *, retry_after: bool = False) -> dict[str, Any]:
    """A route's ``responses`` entry for an error answer."""
    answer: dict[str, Any] = {
        "description": description,
        "content": {PROBLEM_JSON: {"schema": PROBLEM_REF}},
    }
    if retry_after:
        answer["headers"] = RETRY_AFTER
    return answer


# By how the route is built: (status, the answer) for a route that checks a key, reads a body,
# or validates a parameter.
KEY_CHECKED = {
    "401": problem("No API key, or one that is unknown, revoked or expired"),
    "403": problem("The API key lacks the scope the call needs (named in `missing_scope`)"),
    "429": problem("The API key is over its rate limit", retry_after=True),
}
BODY_READ = {
    "400": problem("The body is not valid UTF-8 JSON"),
    "413": problem("The body is over this endpoint's size limit"),
    "422": problem("A field breaks its rule; `errors` names each one"),
}
PARAMETERS = {"422": problem("A parameter breaks its rule; `errors` names each one")}


def install_openapi(app: FastAPI, settings: Settings) -> None:
    """Make ``app.openapi()`` describe the service as it answers now: its error answers, the
    deployment's limits, and the features the loaded customer models need (rebuilt when the
    loaded versions change)."""
    build = app.openapi
    documents: dict[tuple, dict[str, Any]] = {}

    def openapi() -> dict[str, Any]:
        models = _loaded_models(app)
        key = tuple((model.name, model.version) for model in models.values())
        if key not in documents:
            documents.clear()
            document = copy.deepcopy(build())
            schemas = document["components"]["schemas"]
            _describe(document)
            _describe_limits(schemas, settings)
            customer_models = [m for m in models.values() if isinstance(m, ServedCustomerModel)]
            _describe_features(schemas, customer_models)
            _describe_feedback(schemas, FeedbackVocabulary.of(models), settings)
            documents[key] = document
        return documents[key]

    app.openapi = openapi  # type: ignore[method-assign]


def _loaded_models(app: FastAPI) -> Mapping[str, ServedModel]:
    catalog = getattr(app.state, "catalog", None)
    if catalog is None:  # not started: the document of the routes alone
        return {}
    return catalog.serving(catalog.alias).models


def _describe(document: dict[str, Any]) -> None:
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas["Problem"] = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(schemas["Problem"].pop("$defs", {}))
    for operations in document["paths"].values():
        for operation in operations.values():
            _describe_operation(operation)
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)


def _describe_operation(operation: dict[str, Any]) -> None:
    responses = operation["responses"]
    if responses.get("422", {}).get("content", {}).get("application/json"):
        del responses["422"]  # FastAPI's own, in a content type the service never sends
    implied: dict[str, Any] = {}
    if operation.get("security"):
        implied |= KEY_CHECKED
    if operation.get("parameters"):
        implied |= PARAMETERS
    if "requestBody" in operation:
        implied |= BODY_READ
    for status, answer in implied.items():
        responses.setdefault(status, answer)
    for status, answer in responses.items():
        if status.startswith(("4", "5")) and not answer.get("content"):
            answer["content"] = {PROBLEM_JSON: {"schema": PROBLEM_REF}}
        elif PROBLEM_JSON in answer.get("content", {}):
            answer["content"][PROBLEM_JSON].setdefault("schema", PROBLEM_REF)
    operation["responses"] = dict(sorted(responses.items()))


def _not_whitespace() -> str:
    """A pattern for "holds a character that is not whitespace", as ``str.strip`` (which the
    service uses) sees whitespace; spelled out, since regex engines disagree on ``\\s``."""
    spaces = [code for code in range(0x10000) if chr(code).isspace()]
    ranges, start = [], spaces[0]
    for previous, code in zip(spaces, [*spaces[1:], None]):
        if code != previous + 1:
            ranges.append(f"\\u{start:04x}" + (f"-\\u{previous:04x}" if previous > start else ""))
            start = code
    return f"[^{''.join(ranges)}]"


NOT_WHITESPACE = _not_whitespace()


def _describe_limits(schemas: dict[str, Any], settings: Settings) -> None:
    text = {"type": "string", "maxLength": settings.max_text_chars, "pattern": NOT_WHITESPACE}
    classify = schemas["ClassifyRequest"]["properties"]
    classify["text"] = {**classify["text"], "anyOf": [text, {"type": "null"}]}
    classify["texts"]["anyOf"][0] |= {
        "items": text,
        "minItems": 1,
        "maxItems": settings.max_texts_per_request,
    }
    customers = schemas["ScoreRequest"]["properties"]["customers"]
    customers |= {"minItems": 1, "maxItems": settings.max_customers_per_request}
    schemas["ScoreRequest"]["properties"]["models"]["anyOf"][0]["items"] = {
        "type": "string",
        "enum": list(CUSTOMER_MODELS),
    }


def _describe_feedback(
    schemas: dict[str, Any], vocabulary: FeedbackVocabulary, settings: Settings
) -> None:
    """The feedback limits, and the values a feedback item may name: the loaded models'
    categories, occupations, channels and content categories."""
    schemas["FeedbackRequest"]["properties"]["items"]["maxItems"] = (
        settings.max_feedback_per_request
    )
    correction = schemas["TextCorrectionItem"]["properties"]
    correction["text"] |= {"maxLength": settings.max_text_chars, "pattern": NOT_WHITESPACE}
    outcome = schemas["OutcomeItem"]["properties"]
    for properties, field, values in (
        (correction, "category", vocabulary.categories),
        (outcome, "occupation", vocabulary.occupations),
    ):
        if values is not None:
            properties[field]["enum"] = list(values)
    for field in ("channels", "content"):
        if (values := getattr(vocabulary, field)) is not None:
            outcome[field]["items"]["enum"] = list(values)


def _describe_features(schemas: dict[str, Any], models: list[ServedCustomerModel]) -> None:
    """What ``features`` must hold: each column a loaded model's signature names, typed, and
    required where the signature requires it; a stored record keeps the customer schema's
    rules too (categories, whole numbers) and holds only plain values."""
    rules = [rule for model in models for rule in model.feature_rules]
    required = sorted({rule.name for rule in rules if rule.required})
    by_signature = {rule.name: _signature_type(rule) for rule in rules}
    scored = schemas["CustomerFeatures"]["properties"]["features"]
    scored |= {"properties": by_signature, "required": required}
    stored = {name: _stored_type(name, by_signature.get(name)) for name in KNOWN_COLUMNS}
    stored |= {name: by_signature[name] for name in by_signature.keys() - stored.keys()}
    schemas["CustomerPut"]["properties"]["features"] |= {
        "properties": stored,
        "required": required,
        "minProperties": 1,
        "propertyNames": {"pattern": NO_NUL},
        "additionalProperties": PLAIN_VALUE,
    }


NO_NUL = "^[^\u0000]*$"
PLAIN_VALUE = {
    "anyOf": [
        {"type": "string", "pattern": NO_NUL},
        {"type": ["number", "boolean", "null"]},
    ]
}
WHOLE = {"minimum": -(WHOLE_NUMBER_LIMIT - 1), "maximum": WHOLE_NUMBER_LIMIT - 1}


def _signature_type(rule: FeatureRule) -> dict[str, Any]:
    if rule.kind == "a number":
        return {"type": ["number", "null"]}
    if rule.kind == "a string":
        return {"type": ["string", "null"]}
    if rule.kind == "true or false":
        return {"type": ["boolean", "null"]}
    return {}


def _stored_type(name: str, signature: dict[str, Any] | None) -> dict[str, Any]:
    column = KNOWN_COLUMNS[name]
    if column.dtype == "category":
        return {"enum": [*column.categories, None]}
    if column.dtype == "int64":
        return {"type": ["integer", "null"], **WHOLE}
    if column.dtype == "float64":
        return {"type": ["number", "null"]}
    if signature and signature.get("type") != ["string", "null"]:
        return signature
    return {"anyOf": [{"type": "string", "pattern": NO_NUL}, {"type": "null"}]}
