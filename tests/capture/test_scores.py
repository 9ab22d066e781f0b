"""Customer scores recorded from captured answers: which answers count, the latest wins
whichever arrives first, only stored customers; on SQLite and PostgreSQL."""

from __future__ import annotations

import time

import orjson
import pytest

from app.capture.buffer import RawCapture
from app.capture.scores import PROFILE, SCORE, record_scores, score_rows
from app.capture.worker import write_batch, writer_engine
from app.db.migrations import migrated_sessions
from app.db.session import session_scope
from app.services.customer_store import get_customer_scores, upsert_customer

CHURN = {"name": "churn", "version": "2", "alias": "production"}
OCCUPATION = {"name": "occupation", "version": "5", "alias": "production"}
STAGED_OCCUPATION = {"name": "occupation", "version": "6", "alias": "staging"}


def _profile(customer_id: str, churn: float, *, at: float, status: int = 200) -> RawCapture:
    answer = {
        "customer": {"customer_id": customer_id, "features": {}},
        "scores": {"churn": {"churn_probability": churn}, "occupation": {"occupation": "学生"}},
        "models": [CHURN, OCCUPATION],
    }
    return RawCapture(
        request_id=f"p-{customer_id}-{at}",
        endpoint=PROFILE,
        body=b"",
        answer=orjson.dumps(answer),
        status=status,
        latency_ms=1.0,
        received_at=at,
        path_params={"customer_id": customer_id},
    )


def _score(results: list[tuple[str | None, float]], *, at: float, models=None) -> RawCapture:
    answer = {
        "results": [
            {"customer_id": customer_id, "scores": {"churn": {"churn_probability": p}}}
            for customer_id, p in results
        ],
        "models": models or [CHURN],
    }
    return RawCapture(
        request_id=f"s-{at}",
        endpoint=SCORE,
        body=b"{}",
        answer=orjson.dumps(answer),
        status=200,
        latency_ms=1.0,
        received_at=at,
    )


def test_which_answers_give_scores():
    now = time.time()
    rows = score_rows(_profile("C1", 0.4, at=now))
    assert {(r["customer_id"], r["model_name"], r["model_version"]) for r in rows} == {
        ("C1", "churn", "2"),
        ("C1", "occupation", "5"),
    }
    assert score_rows(_profile("C1", 0.4, at=now, status=503)) == []
    anonymous = score_rows(_score([(None, 0.1), ("C2", 0.2)], at=now))
    assert [(r["customer_id"], r["output"]) for r in anonymous] == [
        ("C2", {"churn_probability": 0.2})
    ]
    # A staged version's answer (QA trying it) never overwrites what the CRM reads.
    staged = _score([("C2", 0.9)], at=now, models=[STAGED_OCCUPATION])
    assert score_rows(staged) == []
    truncated = _profile("C1", 0.4, at=now)._replace(answer=b'{"customer": {"cust')
    assert score_rows(truncated) == []


@pytest.fixture
def store(migrated_url):
    with migrated_sessions(migrated_url) as sessions:
        with session_scope(sessions) as session:
            for customer_id in ("C1", "C2"):
                upsert_customer(session, customer_id=customer_id, record={"age": 30})
        yield migrated_url, sessions


def _latest(sessions, customer_id: str) -> dict[str, tuple[str, dict]]:
    with session_scope(sessions) as session:
        scores = get_customer_scores(session, customer_id)
        return {s.model_name: (s.model_version, s.output) for s in scores}


def test_the_latest_answer_wins_whatever_order_they_are_written_in(store):
    url, sessions = store
    engine = writer_engine(url)
    try:
        later, earlier = _score([("C1", 0.7)], at=2000.0), _score([("C1", 0.2)], at=1000.0)
        write_batch(engine, [later])
        write_batch(engine, [earlier])  # another worker's batch, written after
        # Within a batch too, and with a customer the store does not hold.
        batch = [_profile("C2", 0.3, at=3000.0), _profile("C2", 0.1, at=2500.0)]
        write_batch(engine, [*batch, _profile("nobody", 0.5, at=3000.0)])
        write_batch(engine, batch)  # a batch sent again changes nothing
    finally:
        engine.dispose()
    assert _latest(sessions, "C1") == {"churn": ("2", {"churn_probability": 0.7})}
    assert _latest(sessions, "C2")["churn"] == ("2", {"churn_probability": 0.3})
    assert _latest(sessions, "C2")["occupation"] == ("5", {"occupation": "学生"})
    assert _latest(sessions, "nobody") == {}


def test_record_scores_offers_only_stored_customers_once_each(store):
    url, sessions = store
    engine = writer_engine(url)
    try:
        rows = score_rows(_score([("C1", 0.1), ("C1", 0.2), ("ghost", 0.3)], at=5000.0))
        assert record_scores(engine, rows) == 1
    finally:
        engine.dispose()
    assert set(_latest(sessions, "C1")) == {"churn"}
