"""``insight replay`` against staged versions trained to disagree: the report's figures equal
what the staged models say when asked directly."""

from __future__ import annotations

import copy
import dataclasses
import json
from collections import Counter
from datetime import timedelta
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from click.testing import CliRunner

from app.cli import main
from tests.replay.conftest import CLASSIFY, FIRST_CAPTURE, Capture, insert_captures

CLASSIFY_REQUESTS, SCORE_REQUESTS = 12, 4


@pytest.fixture
def insight():
    runner = CliRunner()
    return lambda *args: runner.invoke(main, ["replay", *map(str, args)])


def staged_answer(store, name: str):
    store.activate()
    return mlflow.pyfunc.load_model(f"models:/{name}@staging").unwrap_python_model()


def expected_demand(traffic, store) -> tuple[Counter, list[bool]]:
    """Flips of demand category (captured -> staged) and, per classify request, all agree."""
    model = staged_answer(store, "demand-classifier")
    flips, agreeing = Counter(), []
    for capture, texts in zip(traffic.captures, traffic.texts_by_request):
        staged = model.predict(None, pd.DataFrame({"text": texts}))["label"].tolist()
        captured = [result["category"] for result in capture.answer["results"]]
        flips.update(zip(captured, staged))
        agreeing.append(captured == staged)
    return flips, agreeing


def expected_churn(traffic, store) -> tuple[Counter, list[bool]]:
    model = staged_answer(store, "churn")
    flips, agreeing = Counter(), []
    captures = traffic.captures[CLASSIFY_REQUESTS : CLASSIFY_REQUESTS + SCORE_REQUESTS]
    for capture, records in zip(captures, traffic.customers_by_request):
        staged = [answer["churn_risk_level"] for answer in model.answer_records(records)]
        captured = [r["scores"]["churn"]["churn_risk_level"] for r in capture.answer["results"]]
        flips.update(zip(captured, staged))
        agreeing.append(captured == staged)
    return flips, agreeing


def matrix_counts(field_report: dict) -> Counter:
    return Counter({(a, b): n for a, row in field_report["matrix"].items() for b, n in row.items()})


def test_the_report_matches_the_staged_models_answers(
    insight, replay_env, production_traffic, staged_store, tmp_path
):
    insert_captures(replay_env, production_traffic.captures)
    demand_flips, demand_agree = expected_demand(production_traffic, staged_store)
    churn_flips, churn_agree = expected_churn(production_traffic, staged_store)
    replayed = CLASSIFY_REQUESTS + SCORE_REQUESTS + 2  # the 422 capture is not replayed
    rate = (sum(demand_agree) + sum(churn_agree)) / replayed
    assert rate < 0.5  # the staged versions disagree on purpose

    result = insight("--report", tmp_path / "report", "--min-agreement", rate)

    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    assert report["requests"] == {
        "replayed": replayed,
        "answered": replayed - 2,
        "failed": 2,
        "agreeing": sum(demand_agree) + sum(churn_agree),
        "captured_failures_skipped": 1,
        "not_from_production_skipped": 1,
    }
    assert report["agreement_rate"] == pytest.approx(rate)
    assert report["passed"] is True
    models = report["models"]
    assert matrix_counts(models["demand-classifier"]["categorical"]["category"]) == demand_flips
    assert matrix_counts(models["churn"]["categorical"]["churn_risk_level"]) == churn_flips
    spam = models["spam-filter"]["categorical"]["spam"]
    assert spam["flipped"] == 0 and spam["compared"] == 16
    assert models["spam-filter"]["numeric"]["spam_probability"]["max_abs_change"] == 0
    assert models["demand-classifier"]["answered_by"]["replayed"] == {
        "2 (staging)": CLASSIFY_REQUESTS
    }
    assert models["demand-classifier"]["answered_by"]["captured"] == {
        "1 (production)": CLASSIFY_REQUESTS
    }
    churn_changes = models["churn"]["numeric"]["churn_probability"]
    assert churn_changes["compared"] == 8 and churn_changes["max_abs_change"] > 0.3
    assert sum(models["churn"]["change_histogram"]["counts"]) == 8
    assert report["failures"]["by_status"] == {"503": 1, "404": 1}
    assert {f["request_id"] for f in report["failures"]["requests"]} == {"req-016", "req-017"}
    top = report["changed_most"][0]
    assert len(top["flips"]) == max(len(f) for f in _flips_per_request(report))
    _assert_page_and_pictures(tmp_path / "report", report)
    assert "replay: 19 / 19 requests (100%), 2 failed" in result.stderr
    assert "agreement rate" in result.stdout


def _flips_per_request(report: dict) -> list[list]:
    return [entry["flips"] for entry in report["changed_most"]]


def _assert_page_and_pictures(folder: Path, report: dict) -> None:
    page = (folder / "index.html").read_text(encoding="utf-8")
    figures = report["figures"]
    names = [figures["latency"], *figures["changes"].values()]
    names += [name for fields in figures["flips"].values() for name in fields.values()]
    assert "spam" not in figures["flips"]  # nothing flipped, nothing drawn
    for name in names:
        assert (folder / name).stat().st_size > 1000
        assert f'src="{name}"' in page
    assert "Requests that changed most" in page and "req-016" in page


def _half_agreeing(traffic, store) -> list[Capture]:
    """The classify captures, every other one's categories set to what staging says."""
    model = staged_answer(store, "demand-classifier")
    captures = []
    for i, (capture, texts) in enumerate(zip(traffic.captures, traffic.texts_by_request)):
        if i % 2 == 0:
            staged = model.predict(None, pd.DataFrame({"text": texts}))["label"].tolist()
            answer = copy.deepcopy(capture.answer)
            for result, category in zip(answer["results"], staged):
                result["category"] = category
            capture = dataclasses.replace(capture, answer=answer)
        captures.append(capture)
    return captures


@pytest.mark.parametrize(("above", "exit_code"), [(0.0, 0), (0.01, 1)])
def test_min_agreement_gates_on_the_agreement_rate(
    insight, replay_env, production_traffic, staged_store, tmp_path, above, exit_code
):
    captures = _half_agreeing(production_traffic, staged_store)
    insert_captures(replay_env, captures)
    _flips, agreeing = expected_demand(production_traffic, staged_store)
    rate = sum(agree or i % 2 == 0 for i, agree in enumerate(agreeing)) / CLASSIFY_REQUESTS
    assert 0.5 <= rate < 1
    threshold = rate + above

    result = insight("--endpoint", CLASSIFY, "--report", tmp_path, "--min-agreement", threshold)

    assert result.exit_code == exit_code, result.output
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["requests"]["replayed"] == CLASSIFY_REQUESTS
    assert report["agreement_rate"] == pytest.approx(rate)
    assert report["passed"] is (exit_code == 0)
    if exit_code:
        assert (
            f"agreement rate {rate:.1%} is below --min-agreement {threshold:.1%}" in result.output
        )


def test_since_until_and_limit_pick_the_oldest_in_the_window(
    insight, replay_env, production_traffic, tmp_path
):
    insert_captures(replay_env, production_traffic.captures)
    since = (FIRST_CAPTURE + timedelta(minutes=3)).isoformat()
    until = (FIRST_CAPTURE + timedelta(minutes=9)).isoformat()

    result = insight("--since", since, "--until", until, "--limit", 4, "--report", tmp_path)

    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["requests"]["replayed"] == 4
    rows = {e["request_id"] for e in report["changed_most"]}
    assert rows <= {"req-003", "req-004", "req-005", "req-006"}
    assert report["filters"]["limit"] == 4


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--endpoint", "/v1/nope"], "'/v1/nope' is not one of"),
        (["--since", "2025-06-02", "--until", "2025-06-01"], "must be before --until"),
        (["--since", "yesterday"], "neither an ISO 8601 time"),
        (["--min-agreement", "1.5"], "1.5 is not in the range"),
        (["--against", "staging", "--base-url", "http://x"], "not both"),
    ],
)
def test_bad_filters_are_usage_errors(insight, replay_env, tmp_path, args, message):
    result = insight(*args, "--report", tmp_path)
    assert result.exit_code == 2
    assert message in result.output
    assert not (tmp_path / "report.json").exists()


def test_nothing_to_replay_says_so(insight, replay_env, tmp_path):
    result = insight("--report", tmp_path)
    assert result.exit_code == 2
    assert "no captured request (answered 2xx) matches the filters" in result.output


def test_a_database_that_is_behind_is_refused(
    insight,
    database_url,  # an empty database: never migrated
    monkeypatch,
    tmp_path,
):
    monkeypatch.setenv("INSIGHT_DATABASE_URL", database_url)
    result = insight("--report", tmp_path)
    assert result.exit_code == 1
    assert "insight db upgrade" in result.output


def test_a_request_id_masked_at_capture_is_not_sent_as_a_header(
    insight, replay_env, production_traffic, tmp_path
):
    import sqlalchemy as sa

    from app.db import create_engine_for
    from app.db.models import CapturedRequest

    (first, *_) = insert_captures(replay_env, production_traffic.captures[:2])
    engine = create_engine_for(replay_env)
    with engine.begin() as connection:
        masked = sa.update(CapturedRequest).where(CapturedRequest.id == first)
        connection.execute(masked.values(request_id="〔手机号〕c7295674762bbe"))
    engine.dispose()

    result = insight("--report", tmp_path)

    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["requests"]["replayed"] == 2
    assert not report["failures"]["requests"]
