"""Comparing answers field by field, and adding a replay up: no service, hand-made answers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.replay.comparison import ReplayComparison
from app.replay.outputs import MISSING, answer_outputs, compare_answers
from app.replay.selection import (
    CLASSIFY,
    PROFILE,
    SCORE,
    Captured,
    ReplayFilter,
    SelectionError,
    endpoint_template,
    parse_time,
)
from app.replay.sending import Replayed
from app.replay.summary import replay_summary

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


def _classify(*results: tuple[str, float, bool, float], alias: str = "production") -> dict:
    return {
        "results": [
            {
                "category": category,
                "confidence": confidence,
                "top_categories": [{"category": category, "probability": confidence}],
                "spam": spam,
                "spam_probability": spam_probability,
            }
            for category, confidence, spam, spam_probability in results
        ],
        "models": [
            {"name": "demand-classifier", "version": "1", "alias": alias},
            {"name": "spam-filter", "version": "1", "alias": alias},
        ],
    }


def _captured(row_id: int, answer: dict, endpoint: str = CLASSIFY, latency: float = 2.0):
    return Captured(
        id=row_id,
        request_id=f"r{row_id}",
        endpoint=endpoint,
        body={"text": "不会出现在报告里"},
        answer=answer,
        model_versions=answer.get("models", []),
        latency_ms=latency,
        captured_at=NOW,
    )


def test_a_classify_answer_splits_into_its_two_models():
    (item,) = answer_outputs(CLASSIFY, _classify(("账单查询", 0.8, False, 0.1)))
    assert item["demand-classifier"].categorical == {"category": "账单查询"}
    assert item["demand-classifier"].numeric == {"confidence": 0.8}
    assert item["spam-filter"].categorical == {"spam": "false"}
    assert item["spam-filter"].numeric == {"spam_probability": 0.1}


def test_customer_answers_are_read_by_field_type():
    answer = {
        "customer": {"customer_id": "C1"},
        "lifecycle_stage": "流失风险",
        "scores": {
            "churn": {
                "churn_probability": 0.7,
                "churn_risk_level": "极高",
                "risk_factors": [{"feature": "complaints_6m", "push": 0.2}],
            },
            "channel-preference": {"app_probability": 0.9, "app_level": "依赖"},
        },
    }
    (item,) = answer_outputs(PROFILE, answer)
    assert item["churn"].categorical == {"churn_risk_level": "极高", "lifecycle_stage": "流失风险"}
    assert item["churn"].numeric == {"churn_probability": 0.7}
    assert item["channel-preference"].categorical == {"app_level": "依赖"}


def test_an_output_missing_on_one_side_is_a_flip_to_missing():
    captured = {"results": [{"scores": {"occupation": {"occupation": "学生", "p_学生": 0.6}}}]}
    replayed = {"results": [{"scores": {"occupation": {"p_学生": 0.4}}}]}
    pairs = list(compare_answers(SCORE, captured, replayed))
    flip = next(p for p in pairs if p.categorical)
    assert (flip.captured, flip.replayed, flip.agrees) == ("学生", MISSING, False)
    change = next(p for p in pairs if not p.categorical)
    assert change.change == pytest.approx(-0.2)


def test_a_replay_adds_up_flips_agreement_failures_and_latency():
    comparison = ReplayComparison()
    same = _classify(("账单查询", 0.8, False, 0.1))
    comparison.add(_captured(1, same), Replayed(200, same, 3.0))
    flipped = _classify(("宽带故障", 0.5, True, 0.9), ("账单查询", 0.7, False, 0.2))
    staged = _classify(("账单查询", 0.6, True, 0.8), ("账单查询", 0.7, False, 0.2), alias="staging")
    comparison.add(_captured(2, flipped), Replayed(200, staged, 5.0))
    comparison.add(_captured(3, same), Replayed(503, None, 1.0, problem="Models not loaded"))

    summary = replay_summary(
        comparison, target={}, filters={}, skipped_failed_captures=0, min_agreement=0.5
    )

    assert summary["agreement_rate"] == pytest.approx(1 / 3) and summary["passed"] is False
    demand = summary["models"]["demand-classifier"]
    assert demand["categorical"]["category"]["matrix"] == {
        "宽带故障": {"账单查询": 1},
        "账单查询": {"账单查询": 2},
    }
    assert (demand["answers"], demand["agreeing_answers"]) == (3, 2)
    assert demand["numeric"]["confidence"]["max_abs_change"] == pytest.approx(0.1)
    assert summary["models"]["spam-filter"]["categorical"]["spam"]["flipped"] == 0
    (top, *rest) = summary["changed_most"]
    assert top["request_id"] == "r2" and len(top["flips"]) == 1 and rest == []
    assert "不会出现在报告里" not in str(summary)
    assert summary["failures"]["by_status"] == {"503": 1}
    assert summary["latency_ms"]["all"]["requests"] == 2
    assert summary["models"]["demand-classifier"]["answered_by"]["replayed"] == {
        "1 (production)": 1,
        "1 (staging)": 1,
    }


def test_a_model_that_answered_from_production_is_warned_about():
    comparison = ReplayComparison()
    same = _classify(("账单查询", 0.8, False, 0.1))
    comparison.add(_captured(1, same), Replayed(200, same, 3.0))
    summary = replay_summary(
        comparison, target={}, filters={}, skipped_failed_captures=0, min_agreement=None
    )
    assert summary["passed"] is None
    assert any(
        w.startswith("demand-classifier answered from 1 (production)") for w in summary["warnings"]
    )


def test_times_parse_as_iso_or_a_span_ago():
    assert parse_time("2025-06-01") == datetime(2025, 6, 1, tzinfo=UTC)
    assert parse_time("2025-06-01T08:00+08:00") == datetime(2025, 6, 1, 0, 0, tzinfo=UTC)
    assert parse_time("90m", now=NOW) == NOW - timedelta(minutes=90)
    assert parse_time("7d", now=NOW) == NOW - timedelta(days=7)
    with pytest.raises(SelectionError, match="neither an ISO 8601 time"):
        parse_time("last week")


def test_filters_refuse_an_empty_window_and_unknown_endpoints():
    with pytest.raises(SelectionError, match="must be before --until"):
        ReplayFilter(since=NOW, until=NOW)
    with pytest.raises(SelectionError, match="unknown endpoint"):
        ReplayFilter(endpoints=("/v1/customers",))


def test_profile_paths_belong_to_the_profile_endpoint():
    assert endpoint_template("/v1/customers/C00000042/profile") == PROFILE
    assert endpoint_template("/v1/customers/score") == SCORE
