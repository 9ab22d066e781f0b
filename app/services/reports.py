"""Reports over the stored customers."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db.models import Customer
from app.services.feature_checks import feature_problems
from app.services.served_models import ServedCustomerModel
from training.customers.tasks import CHANNEL_LEVELS

REPORT_CHUNK = 5_000


def channel_preference_report(session: Session, model: ServedCustomerModel) -> dict:
    """Share of stored customers at each reliance level, per channel.

    Customers whose stored record lacks a feature the model needs are counted, not scored.
    """
    counts: dict[str, Counter] = {}
    scored = unscorable = 0
    for records in _record_chunks(session):
        usable = [r for r in records if not feature_problems(r, model.feature_rules, field="")]
        unscorable += len(records) - len(usable)
        if not usable:
            continue
        for answer in model.answer(usable):
            for key, level in answer.items():
                if key.endswith("_level"):
                    counts.setdefault(key.removesuffix("_level"), Counter())[level] += 1
        scored += len(usable)
    shares = {
        channel: {level: (levels[level] / scored if scored else 0.0) for level in CHANNEL_LEVELS}
        for channel, levels in counts.items()
    }
    return {"customers_scored": scored, "customers_not_scorable": unscorable, "shares": shares}


def _record_chunks(session: Session) -> Iterator[list[dict]]:
    statement = select(Customer.record).order_by(Customer.customer_id)
    for partition in session.execute(statement).scalars().partitions(REPORT_CHUNK):
        yield list(partition)
