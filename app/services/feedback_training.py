"""Feedback as training data: stored corrections and outcomes in the form the trainers read
(``insight train MODEL --with-feedback``; docs/feedback.md, "Retraining with feedback")."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
from mlflow.tracking import MlflowClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db.models import Customer, CustomerOutcome, TextCorrection
from app.services.served_models import load_served_model
from model_registry.registry import PRODUCTION, ModelNotFoundError, resolve_version
from training.common.feedback import Feedback
from training.common.labels import DataError
from training.customers.tasks import CustomerTask
from training.text.data import HAM, SPAM, LabelledTexts
from training.text.trainer import TextTask

# The outcome field that labels each customer model's targets.
OUTCOME_FIELDS = {
    "churn": CustomerOutcome.churned,
    "occupation": CustomerOutcome.occupation,
    "channel-preference": CustomerOutcome.channels,
    "content-preference": CustomerOutcome.content,
}


def text_feedback(
    session: Session, client: MlflowClient, task: TextTask, since: datetime | None
) -> Feedback:
    """The corrections received since ``since`` that label ``task`` (a category for the demand
    classifier, a spam verdict for the spam filter), in the order received."""
    field = TextCorrection.spam if task.binary else TextCorrection.category
    rows = session.execute(
        select(TextCorrection.text, field)
        .where(field.is_not(None), *_window(TextCorrection.received_at, since))
        .order_by(TextCorrection.received_at, TextCorrection.key)
    ).all()
    texts = [text for text, _ in rows]
    labels = [(SPAM if value else HAM) if task.binary else value for _, value in rows]
    corrections = LabelledTexts(texts, labels, source=f"{len(rows)} corrections")
    return _feedback(client, task.model_name, corrections, since)


def customer_feedback(
    session: Session, client: MlflowClient, task: CustomerTask, since: datetime | None
) -> Feedback:
    """Stored customers' records with the outcome received since ``since`` that labels
    ``task`` (the latest as-of date of each customer), as target columns named like the
    built-in world's: churned, occupation, relies_on_<channel>, likes_<content>."""
    field = OUTCOME_FIELDS[task.model_name]
    rows = session.execute(
        select(Customer.customer_id, Customer.record, field)
        .join(CustomerOutcome, CustomerOutcome.customer_id == Customer.customer_id)
        .where(field.is_not(None), *_window(CustomerOutcome.received_at, since))
        .order_by(Customer.customer_id, CustomerOutcome.as_of)
    ).all()
    latest = {customer_id: (record, outcome) for customer_id, record, outcome in rows}
    records = [
        {**record, "customer_id": customer_id, **_targets(task, outcome)}
        for customer_id, (record, outcome) in latest.items()
    ]
    return _feedback(client, task.model_name, pd.DataFrame(records), since)


def _targets(task: CustomerTask, outcome: object) -> dict[str, object]:
    if isinstance(outcome, list):  # the channels or content categories actually used
        return {target: int(task.slug(target) in outcome) for target in task.targets}
    (target,) = task.targets
    return {target: int(outcome) if isinstance(outcome, bool) else outcome}


def _window(received_at, since: datetime | None) -> list:
    return [] if since is None else [received_at >= since]


def _feedback(client: MlflowClient, name: str, rows, since: datetime | None) -> Feedback:
    if not len(rows):
        raise DataError(f"no feedback for {name} was received ({_window_text(since)})")
    try:
        version = resolve_version(client, name, alias=PRODUCTION)
    except ModelNotFoundError:
        return Feedback(rows, _window_text(since))
    production = load_served_model(client, version, PRODUCTION).model
    return Feedback(rows, _window_text(since), production, str(version.version))


def _window_text(since: datetime | None) -> str:
    return f"since {since.isoformat()}" if since else "all"
