"""Live quality end to end: real classifications and scores through the API, corrections and
outcomes posted to POST /v1/feedback, then ``insight monitor quality`` and the service's gauges
on /metrics give the figures computed here by hand (and by sklearn on the same pairs), beside
the figures the versions' training runs logged; the gauges survive a database outage."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sklearn.metrics import roc_auc_score
from sqlalchemy import func, select

from app.cli import main
from app.db.migrations import migrated_sessions, upgrade
from app.db.models import CustomerOutcome, CustomerScore
from app.db.session import session_scope
from model_registry.registry import resolve_version
from model_registry.store import MlflowStore
from tests.api.test_customers import _features
from tests.api.test_feedback import _classified
from tests.capture.outage import DatabaseOutage
from tests.conftest import (
    CUSTOMER_MODEL_NAMES,
    TEXT_MODELS,
    admin_headers,
    service_client,
    settings_for,
    wait_until_ready,
)
from tests.db.databases import BACKENDS, empty_database

FEEDBACK, SCORE = "/v1/feedback", "/v1/customers/score"
TEXTS, CUSTOMERS = 40, 80
WAIT_S = 30  # a deadline for the test, not a speed claim
QUALITY_ROUND_S = 0.2


def _wait(condition, what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        assert time.monotonic() < deadline, f"no {what} within {WAIT_S} s"
        time.sleep(0.05)


@pytest.fixture(scope="module")
def quality_service(full_store, tmp_path_factory) -> Iterator[tuple[TestClient, str]]:
    """All six models on an app database of its own, capturing every 50 ms and computing the
    live-quality gauges every 0.2 s."""
    url = f"sqlite:///{tmp_path_factory.mktemp('live-quality') / 'insight.db'}"
    upgrade(url)
    settings = settings_for(
        full_store,
        database_url=url,
        served_models=TEXT_MODELS + list(CUSTOMER_MODEL_NAMES),
        capture_flush_interval_seconds=0.05,
        live_quality_interval_seconds=QUALITY_ROUND_S,
    )
    with service_client(settings, headers=admin_headers(url)) as client:
        wait_until_ready(client)
        yield client, url


@pytest.fixture(scope="module")
def feedback(quality_service, demand_corpus, customer_world) -> dict:
    """Corrections of real classifications (a few deliberately disagreeing with the answer)
    and outcomes of really scored customers; what the service answered, for the figures."""
    client, url = quality_service
    rows = demand_corpus.iloc[:TEXTS]
    answers = _classified(client, rows["text"].tolist(), "live-quality-1")
    categories = [c if isinstance(c, str) else None for c in rows["category"]]  # spam: none
    known = sorted({c for c in categories if c})
    for index in range(5):  # agents who disagree: never the answered category
        categories[index] = next(c for c in known if c != answers[index]["category"])
    corrections = [
        {
            "kind": "text",
            "request_id": "live-quality-1",
            "index": index,
            "spam": bool(spam),
            "corrected_by": "坐席0421",
            **({"category": category} if category else {}),
        }
        for index, (category, spam) in enumerate(zip(categories, rows["spam"]))
    ]
    _post(client, corrections)
    ids = _score_customers(client, url, customer_world)
    today = datetime.now(UTC).date().isoformat()
    _post(client, [_observed(customer_world, row, ids[row], today) for row in range(CUSTOMERS)])
    return {
        "answered": [a["category"] for a in answers],
        "corrected": categories,
        "spam_answered": [a["spam"] for a in answers],
        "spam_corrected": [bool(s) for s in rows["spam"]],
    }


def _post(client: TestClient, items: list[dict]) -> None:
    for start in range(0, len(items), 50):
        answer = client.post(FEEDBACK, json={"items": items[start : start + 50]})
        assert answer.status_code == 200, answer.text


def _score_customers(client: TestClient, url: str, customer_world) -> list[str]:
    ids = [f"C-lq-{row}" for row in range(CUSTOMERS)]
    customers = [
        {"customer_id": i, "features": _features(customer_world, r)} for r, i in enumerate(ids)
    ]
    for customer in customers:
        assert (
            client.put(f"/v1/customers/{customer['customer_id']}", json=customer).status_code == 200
        )
    assert client.post(SCORE, json={"customers": customers}).status_code == 200
    _wait(lambda: _count(url, CustomerScore) == 4 * CUSTOMERS, "customer scores recorded")
    return ids


def _observed(world, row: int, customer_id: str, as_of: str) -> dict:
    truth = world.iloc[row]
    return {
        "kind": "outcome",
        "customer_id": customer_id,
        "as_of": as_of,
        "churned": bool(truth["churned"]),
        "occupation": truth["occupation"],
        "channels": [
            c.removeprefix("relies_on_") for c in world if c.startswith("relies_on_") and truth[c]
        ],
        "content": [c.removeprefix("likes_") for c in world if c.startswith("likes_") and truth[c]],
        "reported_by": "数据仓库",
    }


def _count(url: str, table) -> int:
    with migrated_sessions(url) as sessions, session_scope(sessions) as session:
        return session.scalar(select(func.count()).select_from(table))


def _churn_pairs(url: str) -> tuple[list[bool], list[float]]:
    """Each outcome's churned flag beside the churn model's stored answer, read here directly."""
    with migrated_sessions(url) as sessions, session_scope(sessions) as session:
        rows = session.execute(
            select(CustomerOutcome.churned, CustomerScore.output)
            .join(CustomerScore, CustomerScore.customer_id == CustomerOutcome.customer_id)
            .where(CustomerScore.model_name == "churn")
        ).all()
    return [churned for churned, _ in rows], [output["churn_probability"] for _, output in rows]


def _monitor(store: MlflowStore, url: str, *args: str):
    environment = {
        "INSIGHT_DATABASE_URL": url,
        "INSIGHT_MLFLOW_TRACKING_URI": store.tracking_uri,
        "INSIGHT_MLFLOW_ARTIFACT_ROOT": store.artifact_root,
        "INSIGHT_SERVED_MODELS": json.dumps(TEXT_MODELS + list(CUSTOMER_MODEL_NAMES)),
    }
    return CliRunner().invoke(main, ["monitor", "quality", *args], env=environment)


def _figures(document: dict) -> dict[tuple[str, str], dict]:
    """model, metric -> the figure, for the production versions (one per model here)."""
    return {
        (version["model"], figure["metric"]): figure
        | {"rows": version["rows"], "version": version["version"]}
        for version in document["versions"]
        for figure in version["figures"]
    }


def _training(store: MlflowStore, model: str) -> dict[str, float]:
    client = store.activate()
    return client.get_run(resolve_version(client, model).run_id).data.metrics


def test_monitor_quality_gives_the_figures_of_the_feedback(quality_service, feedback, full_store):
    _, url = quality_service
    result = _monitor(full_store, url, "--json")
    assert result.exit_code == 0, result.output
    figures = _figures(json.loads(result.output))

    corrected = [(a, c) for a, c in zip(feedback["answered"], feedback["corrected"]) if c]
    right = sum(a == c for a, c in corrected)
    demand = figures["demand-classifier", "accuracy"]
    assert demand["rows"] == len(corrected) and demand["live"] == right / len(corrected)
    assert 0 < right < len(corrected)
    assert demand["training"] == _training(full_store, "demand-classifier")["accuracy"]
    spam_right = sum(a == c for a, c in zip(feedback["spam_answered"], feedback["spam_corrected"]))
    assert figures["spam-filter", "accuracy"]["live"] == spam_right / TEXTS

    truth, scores = _churn_pairs(url)
    churn = figures["churn", "roc_auc"]
    assert churn["rows"] == CUSTOMERS == len(truth)
    assert churn["live"] == pytest.approx(roc_auc_score(truth, scores))
    assert churn["training"] == _training(full_store, "churn")["roc_auc"]
    for model in ("channel-preference", "content-preference"):
        figure = figures[model, "mean_roc_auc"]
        assert figure["rows"] == CUSTOMERS and 0.5 < figure["live"] <= 1.0
        assert figure["training"] == _training(full_store, model)["mean_roc_auc"]
    assert figures["occupation", "macro_f1"]["rows"] == CUSTOMERS


def test_a_window_with_no_feedback_lists_production_versions_saying_why(
    quality_service, feedback, full_store
):
    _, url = quality_service
    result = _monitor(full_store, url, "--since", "2020-01-01", "--until", "2020-02-01", "--json")
    assert result.exit_code == 0, result.output
    figures = _figures(json.loads(result.output))
    assert len({model for model, _ in figures}) == 6
    for figure in figures.values():
        assert figure["rows"] == 0 and figure["live"] is None
        assert figure["note"] == "no feedback in the window" and figure["training"] is not None


def test_the_table_shows_live_beside_training(quality_service, feedback, full_store):
    _, url = quality_service
    result = _monitor(full_store, url, "--since", "1d")
    assert result.exit_code == 0, result.output
    (line,) = [line for line in result.output.splitlines() if line.startswith("churn ")]
    model, version, rows, metric, live, training = line.split()
    assert (model, rows, metric) == ("churn", str(CUSTOMERS), "roc_auc")
    assert float(live) == pytest.approx(roc_auc_score(*_churn_pairs(url)), abs=5e-4)


def test_an_until_before_since_is_a_clear_error(quality_service, full_store):
    _, url = quality_service
    result = _monitor(full_store, url, "--since", "2026-11-02", "--until", "2026-11-01")
    assert result.exit_code == 2 and "--until" in result.output


def _gauges(client: TestClient) -> dict[tuple[str, frozenset], float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
        if sample.name.startswith(
            ("insight_live_quality", "insight_training_quality", "insight_feedback_rows")
        )
    }


def test_the_service_exports_the_same_figures_as_gauges(quality_service, feedback, full_store):
    client, url = quality_service
    document = json.loads(_monitor(full_store, url, "--since", "30d", "--json").output)
    expected = _figures(document)
    version = expected["churn", "roc_auc"]["version"]
    rows_label = frozenset({"model": "churn", "version": version}.items())
    _wait(
        lambda: _gauges(client).get(("insight_feedback_rows", rows_label)) == CUSTOMERS,
        "churn rows gauge",
    )
    gauges = _gauges(client)
    for (model, metric), figure in expected.items():
        labels = frozenset({"model": model, "version": figure["version"], "metric": metric}.items())
        assert gauges[("insight_live_quality", labels)] == pytest.approx(figure["live"])
        assert gauges[("insight_training_quality", labels)] == pytest.approx(figure["training"])
    for _name, labels in gauges:
        assert {key for key, _ in labels} <= {"model", "version", "metric"}
        assert not any(value.startswith("C-lq") for _, value in labels)


@pytest.fixture
def postgres_outage(trained_store) -> Iterator[tuple[TestClient, DatabaseOutage]]:
    """The text models' service on PostgreSQL through a proxy the test can close."""
    if "postgresql" not in BACKENDS:
        pytest.skip("needs INSIGHT_TEST_POSTGRES_URL (make test sets it)")
    for url in empty_database("postgresql", Path()):
        upgrade(url)
        outage = DatabaseOutage(url)
        settings = settings_for(
            trained_store,
            database_url=outage.app_url,
            capture_flush_interval_seconds=0.05,
            database_statement_timeout_seconds=0.5,
            live_quality_interval_seconds=QUALITY_ROUND_S,
        )
        try:
            with service_client(settings, headers=admin_headers(url)) as client:
                wait_until_ready(client)
                yield client, outage
        finally:
            outage.dispose()


def _refs(client: TestClient) -> list[dict]:
    return client.post("/v1/demands/classify", json={"text": "宽带断网了"}).json()["models"]


def test_the_gauges_keep_their_last_figures_through_a_database_outage(postgres_outage, caplog):
    client, outage = postgres_outage
    caplog.set_level(logging.INFO)
    answers = _classified(client, ["宽带断网了", "话费扣多了"], "live-quality-outage")
    _post(
        client,
        [
            {
                "kind": "text",
                "request_id": "live-quality-outage",
                "index": i,
                "category": a["category"],
                "corrected_by": "a1",
            }
            for i, a in enumerate(answers)
        ],
    )
    (demand,) = [ref["version"] for ref in _refs(client) if ref["name"] == "demand-classifier"]
    rows = (
        "insight_feedback_rows",
        frozenset({"model": "demand-classifier", "version": demand}.items()),
    )
    _wait(lambda: _gauges(client).get(rows) == 2, "demand-classifier rows gauge")
    before = _gauges(client)
    try:
        outage.begin()
        _wait(lambda: "live quality not computed" in caplog.text, "failed round")
        assert _gauges(client) == before
    finally:
        outage.end()
    _wait(lambda: "live quality computed again" in caplog.text, "round after the outage")
    assert _gauges(client) == before
    assert before[("insight_live_quality", rows[1] | {("metric", "accuracy")})] == 1.0
    assert caplog.text.count("live quality not computed") == 1
    assert "Traceback" not in caplog.text and "宽带" not in caplog.text
