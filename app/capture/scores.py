"""Each customer model's latest answer per stored customer (``customer_scores``), so a CRM can
read yesterday's scores without scoring again (``GET /v1/customers/{id}``).

The capture worker takes them from the score and profile answers it writes anyway: off the
request path, in its own process, in the same batches (docs/request-capture.md). Only answers
from the ``production`` alias count (a staged version tried by QA must not overwrite what the
CRM reads), only for customers the store holds, and a later answer always wins, whichever
worker wrote first. With capture off, no scores are recorded.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import Engine, select
from sqlalchemy.dialects import postgresql, sqlite

from app.capture.buffer import RawCapture
from app.db.models import Customer, CustomerScore

SCORE = "/v1/customers/score"
PROFILE = "/v1/customers/{customer_id}/profile"
RECORDED_ALIAS = "production"
IDS_PER_QUERY = 500  # stored ids looked up per statement (SQLite allows a few thousand)


def score_rows(entry: RawCapture) -> list[dict[str, Any]]:
    """The ``customer_scores`` rows one captured answer gives: one per customer with an id
    and model from the production alias; none for an answer that is not a 200."""
    if entry.status != 200 or entry.endpoint not in (SCORE, PROFILE):
        return []
    try:
        answer = orjson.loads(entry.answer)
        models = {
            ref["name"]: ref for ref in answer["models"] if ref.get("alias") == RECORDED_ALIAS
        }
        if entry.endpoint == PROFILE:
            scored = [(answer["customer"]["customer_id"], answer["scores"])]
        else:
            scored = [(result.get("customer_id"), result["scores"]) for result in answer["results"]]
    except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError):
        return []  # not an answer of ours (a truncated one, say): nothing to record
    at = datetime.fromtimestamp(entry.received_at, UTC)
    return [
        {
            "customer_id": customer_id,
            "model_name": name,
            "model_version": models[name]["version"],
            "model_alias": RECORDED_ALIAS,
            "output": output,
            "scored_at": at,
        }
        for customer_id, scores in scored
        if isinstance(customer_id, str)
        for name, output in scores.items()
        if name in models
    ]


def record_scores(engine: Engine, rows: Iterable[dict[str, Any]]) -> int:
    """Upsert the latest of ``rows`` per customer and model, for stored customers, never
    replacing a later answer; the number of rows offered to the database."""
    latest: dict[tuple[str, str], dict[str, Any]] = {}
    for row in rows:
        key = (row["customer_id"], row["model_name"])
        if key not in latest or latest[key]["scored_at"] <= row["scored_at"]:
            latest[key] = row
    if not latest:
        return 0
    with engine.begin() as connection:
        ids = sorted({customer_id for customer_id, _ in latest})
        stored: set[str] = set()
        for start in range(0, len(ids), IDS_PER_QUERY):
            chunk = ids[start : start + IDS_PER_QUERY]
            query = select(Customer.customer_id).where(Customer.customer_id.in_(chunk))
            stored.update(connection.scalars(query))
        kept = [row for (customer_id, _), row in latest.items() if customer_id in stored]
        if kept:
            connection.execute(_newer_wins(engine.dialect.name), kept)
    return len(kept)


def _newer_wins(dialect: str):
    table = CustomerScore.__table__
    insert = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}[dialect](table)
    updated = ("model_version", "model_alias", "output", "scored_at")
    return insert.on_conflict_do_update(
        index_elements=list(table.primary_key.columns),
        set_={name: insert.excluded[name] for name in updated},
        where=table.c.scored_at <= insert.excluded.scored_at,
    )
