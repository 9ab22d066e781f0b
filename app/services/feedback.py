"""Feedback from the CRM: corrections of classified texts and observed customer outcomes.

A correction names the answer it corrects (the request id and the text's index, read back from
the captured request: the text as captured, masked, and what the models answered) or carries
the text itself (masked the same way). An outcome names a stored customer and a date. Both are
checked against the models that answer (a category the demand model does not know is refused,
listing those it knows) and stored by key, so sending the same feedback again replaces it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from app.capture.masking import mask_text
from app.capture.records import captured_request_id
from app.core.errors import NotReadyError
from app.db.base import utc_now
from app.db.models import CapturedRequest, Customer, CustomerOutcome, TextCorrection
from app.db.upsert import upsert_statement
from app.services.customer_ids import CustomerId
from app.services.demand_classification import DEMAND_MODEL, text_rule
from app.services.served_models import ServedCustomerModel, ServedModel, ServedTextModel
from training.customers.tasks import CUSTOMER_TASKS

CLASSIFY = "/v1/demands/classify"
NAME_LENGTH = 100
NO_NUL = "^[^\x00]*$"  # PostgreSQL's text refuses NUL
OUTCOME_VERDICTS = ("churned", "occupation", "channels", "content")
# The items' optional fields are typed without None and default to None: left out, a field is
# None (defaults are not validated); sent as null, it is refused, as the OpenAPI document says.


class TextCorrectionItem(BaseModel):
    """The right verdict on a classified text: which answer (``request_id`` and ``index``) or
    which text, and the right demand category, spam verdict or both."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "allOf": [
                {"oneOf": [{"required": ["request_id"]}, {"required": ["text"]}]},
                {"anyOf": [{"required": ["request_id"]}, {"not": {"required": ["index"]}}]},
                {"anyOf": [{"required": ["category"]}, {"required": ["spam"]}]},
            ]
        },
    )

    kind: Literal["text"]
    request_id: str = Field(
        None,
        min_length=1,
        max_length=128,
        pattern=NO_NUL,
        description="The X-Request-ID of the classification being corrected.",
    )
    index: int = Field(
        None, ge=0, description="The text's position in that request's batch (default 0)."
    )
    text: str = Field(None, description="The text, instead of request_id.")
    category: str = Field(None, max_length=NAME_LENGTH, description="The right demand category.")
    spam: bool = Field(None, description="Whether it really is spam.")
    corrected_by: str = Field(
        min_length=1, max_length=NAME_LENGTH, pattern=NO_NUL, description="Who corrected it."
    )


class OutcomeItem(BaseModel):
    """What became of a stored customer as of a date: at least one of churned, occupation,
    channels, content."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"anyOf": [{"required": [field]} for field in OUTCOME_VERDICTS]},
    )

    kind: Literal["outcome"]
    customer_id: CustomerId = Field(description="A stored customer's id.")
    as_of: date = Field(description="The date the outcome held.")
    churned: bool = Field(None, description="Left (true) or stayed.")
    occupation: str = Field(None, max_length=NAME_LENGTH, description="The confirmed occupation.")
    channels: list[str] = Field(
        None,
        max_length=50,
        description="The service channels actually used, as the answers name them (store, "
        "web, app, sms, hotline, kiosk); the others were not.",
    )
    content: list[str] = Field(
        None,
        max_length=50,
        description="The content categories actually used, as the answers name them (news, "
        "business, finance, sports, entertainment, lifestyle, culture, games).",
    )
    reported_by: str = Field(
        min_length=1, max_length=NAME_LENGTH, pattern=NO_NUL, description="Who reported it."
    )


FeedbackItem = Annotated[TextCorrectionItem | OutcomeItem, Field(discriminator="kind")]


@dataclass(frozen=True)
class FeedbackVocabulary:
    """What feedback may name, from the models that answer: each is None when its model is
    not loaded (feedback naming it then answers 503)."""

    categories: tuple[str, ...] | None
    occupations: tuple[str, ...] | None
    channels: tuple[str, ...] | None
    content: tuple[str, ...] | None

    @classmethod
    def of(cls, models: Mapping[str, ServedModel]) -> FeedbackVocabulary:
        demand = models.get(DEMAND_MODEL)
        return cls(
            categories=tuple(demand.classes) if isinstance(demand, ServedTextModel) else None,
            occupations=_occupations(models.get("occupation")),
            channels=_target_slugs(models.get("channel-preference"), "channel-preference"),
            content=_target_slugs(models.get("content-preference"), "content-preference"),
        )

    def allowed(self, field: str) -> tuple[str, ...]:
        values = getattr(
            self, {"category": "categories", "occupation": "occupations"}.get(field, field)
        )
        if values is None:
            raise NotReadyError(f"the model that checks {field} is not loaded; try again later")
        return values


def _occupations(served: ServedModel | None) -> tuple[str, ...] | None:
    if not isinstance(served, ServedCustomerModel):
        return None
    return tuple(served.model.classes(next(iter(served.model.pipelines))))


def _target_slugs(served: ServedModel | None, name: str) -> tuple[str, ...] | None:
    if not isinstance(served, ServedCustomerModel):
        return None
    return tuple(CUSTOMER_TASKS[name].slug(target) for target in served.model.pipelines)


@dataclass(frozen=True)
class ItemProblem:
    """What is wrong with one field of the item at ``position`` in its batch."""

    position: int
    field: str
    message: str


@dataclass
class FeedbackSummary:
    created: int = 0
    replaced: int = 0

    @property
    def stored(self) -> int:
        return self.created + self.replaced


def check_items(
    items: Sequence[FeedbackItem],
    vocabulary: FeedbackVocabulary,
    *,
    max_text_chars: int,
) -> list[ItemProblem]:
    """What is wrong with each item, field by field; nothing when all are good."""
    return [
        ItemProblem(position, field, rule)
        for position, item in enumerate(items)
        for field, rule in _item_rules(item, vocabulary, max_text_chars)
    ]


def _item_rules(
    item: FeedbackItem, vocabulary: FeedbackVocabulary, max_text_chars: int
) -> Iterable[tuple[str, str]]:
    if isinstance(item, TextCorrectionItem):
        yield from _text_rules(item, vocabulary, max_text_chars)
    else:
        yield from _outcome_rules(item, vocabulary)


def _text_rules(
    item: TextCorrectionItem, vocabulary: FeedbackVocabulary, max_text_chars: int
) -> Iterable[tuple[str, str]]:
    if (item.request_id is None) == (item.text is None):
        yield "request_id", "give exactly one of request_id (with index) or text"
    if item.text is not None and (rule := text_rule(item.text, max_text_chars)):
        yield "text", rule
    if item.index is not None and item.request_id is None:
        yield "index", "only with request_id"
    if item.category is None and item.spam is None:
        yield "category", "give the right category, spam verdict or both"
    if item.category is not None and item.category not in vocabulary.allowed("category"):
        yield "category", _one_of(vocabulary.allowed("category"))


def _outcome_rules(item: OutcomeItem, vocabulary: FeedbackVocabulary) -> Iterable[tuple[str, str]]:
    if all(getattr(item, field) is None for field in OUTCOME_VERDICTS):
        yield "churned", "give at least one of churned, occupation, channels, content"
    if item.occupation is not None and item.occupation not in vocabulary.allowed("occupation"):
        yield "occupation", _one_of(vocabulary.allowed("occupation"))
    for field in ("channels", "content"):
        values = getattr(item, field)
        if values is not None and (unknown := set(values) - set(vocabulary.allowed(field))):
            yield field, f"{len(unknown)} unknown; " + _one_of(vocabulary.allowed(field))


def _one_of(values: Sequence[str]) -> str:
    return "must be one of: " + ", ".join(values)


def store_items(
    session: Session,
    items: Sequence[FeedbackItem],
    *,
    client: str | None,
) -> tuple[FeedbackSummary, list[ItemProblem]]:
    """Store checked items (each replacing any earlier feedback with its key), unless one
    names what the database does not hold: an uncaptured request, an index past its batch, an
    unknown customer. Then nothing is stored and those are returned."""
    corrections, problems = _corrections(session, items, client)
    outcomes, problems_too = _outcomes(session, items, client)
    problems += problems_too
    if problems:
        return FeedbackSummary(), problems
    summary = FeedbackSummary()
    for table, key, rows in (
        (TextCorrection, ("key",), corrections),
        (CustomerOutcome, ("customer_id", "as_of"), outcomes),
    ):
        created = _upsert(session, table, key, rows)
        summary.created += created
        summary.replaced += len(rows) - created
    return summary, []


def _corrections(
    session: Session, items: Sequence[FeedbackItem], client: str | None
) -> tuple[list[dict[str, Any]], list[ItemProblem]]:
    rows: dict[str, dict[str, Any]] = {}  # by key: the last of a batch's duplicates wins
    problems: list[ItemProblem] = []
    captured = _captured_classifications(
        session,
        {
            item.request_id
            for item in items
            if isinstance(item, TextCorrectionItem) and item.request_id
        },
    )
    for position, item in enumerate(items):
        if not isinstance(item, TextCorrectionItem):
            continue
        if item.request_id is None:
            request_id = index = None
            text = mask_text(item.text or "")
            key, answered = f"text:{hashlib.sha256(text.encode()).hexdigest()}", None
        else:
            request_id, index = captured_request_id(item.request_id), item.index or 0
            found = captured.get(request_id)
            if found is None:
                problems.append(ItemProblem(position, "request_id", _NOT_CAPTURED))
                continue
            texts, results, models = found
            if index >= len(texts):
                problems.append(
                    ItemProblem(position, "index", f"that request held {len(texts)} text(s)")
                )
                continue
            text, key = texts[index], f"request:{request_id}#{index}"
            answered = {
                "category": results[index].get("category"),
                "spam": results[index].get("spam"),
                "models": models,
            }
        rows[key] = {
            "key": key,
            "request_id": request_id,
            "item_index": index,
            "text": text,
            "category": item.category,
            "spam": item.spam,
            "answered": answered,
            "corrected_by": item.corrected_by,
            "client": client,
            "received_at": utc_now(),
        }
    return list(rows.values()), problems


_NOT_CAPTURED = (
    "no captured classification answer has this request id (captures are written within "
    "seconds; a service with capture off cannot find it: send the text instead)"
)


def _captured_classifications(
    session: Session, request_ids: set[str]
) -> dict[str, tuple[list[str], list[dict], list[dict]]]:
    """The texts, answers and model refs of the answered classifications with these request
    ids (masked, as captured); the latest one where an id was used twice."""
    if not request_ids:
        return {}
    statement = (
        select(
            CapturedRequest.request_id,
            CapturedRequest.body,
            CapturedRequest.answer,
            CapturedRequest.model_versions,
        )
        .where(
            CapturedRequest.request_id.in_({captured_request_id(r) for r in request_ids}),
            CapturedRequest.endpoint == CLASSIFY,
            CapturedRequest.status == 200,
        )
        .order_by(CapturedRequest.id)
    )
    found = {}
    for request_id, body, answer, models in session.execute(statement):
        texts = (
            [body["text"]]
            if "text" in body and body["text"] is not None
            else body.get("texts") or []
        )
        found[request_id] = (list(texts), list(answer.get("results") or []), list(models))
    return found


def _outcomes(
    session: Session, items: Sequence[FeedbackItem], client: str | None
) -> tuple[list[dict[str, Any]], list[ItemProblem]]:
    wanted = {item.customer_id for item in items if isinstance(item, OutcomeItem)}
    stored = (
        set(session.scalars(select(Customer.customer_id).where(Customer.customer_id.in_(wanted))))
        if wanted
        else set()
    )
    rows: dict[tuple, dict[str, Any]] = {}
    problems: list[ItemProblem] = []
    for position, item in enumerate(items):
        if not isinstance(item, OutcomeItem):
            continue
        if item.customer_id not in stored:
            # Not the id: it may be personal data, and the caller knows it.
            problems.append(
                ItemProblem(position, "customer_id", "the store holds no customer with this id")
            )
            continue
        rows[(item.customer_id, item.as_of)] = {
            "customer_id": item.customer_id,
            "as_of": item.as_of,
            "churned": item.churned,
            "occupation": item.occupation,
            "channels": None if item.channels is None else sorted(set(item.channels)),
            "content": None if item.content is None else sorted(set(item.content)),
            "reported_by": item.reported_by,
            "client": client,
            "received_at": utc_now(),
        }
    return list(rows.values()), problems


def _upsert(session: Session, table: type, key: tuple[str, ...], rows: list[dict]) -> int:
    """Upsert the rows; how many were new."""
    if not rows:
        return 0
    columns = [getattr(table, name) for name in key]
    keys = [tuple(row[name] for name in key) for row in rows]
    existing = _existing_keys(session, columns, keys)
    dialect = session.get_bind().dialect.name
    update = [name for name in rows[0] if name not in key]
    session.execute(upsert_statement(table.__table__, dialect, update_columns=update), rows)
    return len(rows) - len(existing)


def _existing_keys(session: Session, columns: list, keys: list[tuple]) -> set[tuple]:

    statement = select(*columns).where(tuple_(*columns).in_(keys))
    return {tuple(row) for row in session.execute(statement)}
