"""The 客户画像 rules the README documents, each held at its boundaries."""

from __future__ import annotations

import pytest

from app.services.customer_profile import lifecycle_stage, satisfaction, value_segment


def spends(*months: float | None) -> dict:
    return {f"spend_m{i}": spend for i, spend in enumerate(months, start=1)}


@pytest.mark.parametrize(
    ("record", "segment"),
    [
        (spends(150, 150, 150), "高价值"),
        (spends(150, 150, 149.97), "中价值"),  # mean 149.99
        (spends(60, 60, 60), "中价值"),
        (spends(60, 60, 59.97), "低价值"),  # mean 59.99
        (spends(0, 0, 0), "低价值"),
        (spends(-20, 10, 5), "低价值"),  # credits: a negative mean is still a segment
        (spends(200, None, 100), "高价值"),  # the months that are there: mean 150
        (spends(1.5e308, 1.5e308, 1.5e308), "高价值"),  # no overflow to infinity
    ],
)
def test_value_segment_bounds(record, segment):
    answer = value_segment(record)
    assert answer["segment"] == segment
    assert abs(answer["mean_monthly_spend"]) < float("inf")


def test_no_spend_is_no_segment_with_the_reason():
    answer = value_segment({"spend_m1": None, "spend_m2": "n/a"})
    assert answer["segment"] is None
    assert "spend_m1" in answer["reason"]


@pytest.mark.parametrize(
    ("record", "churn", "stage"),
    [
        ({"churned": 1, "tenure_months": 40}, 0.0, "已流失"),
        ({"churned": True, "tenure_months": 0}, None, "已流失"),
        ({"churned": 0, "tenure_months": 0}, 0.9, "潜在"),  # no tenure yet beats churn risk
        ({"tenure_months": 40}, 0.35, "流失风险"),  # at the bound, before 忠诚
        ({"tenure_months": 2}, 0.35, "流失风险"),  # and before 新客
        ({"tenure_months": 40}, 0.3499, "忠诚"),
        ({"tenure_months": 40}, None, "忠诚"),  # no churn model answer: by tenure alone
        ({"tenure_months": 1}, 0.1, "新客"),
        ({"tenure_months": 5}, 0.1, "新客"),
        ({"tenure_months": 6}, 0.1, "成长"),
        ({"tenure_months": 23}, 0.1, "成长"),
        ({"tenure_months": 24}, 0.1, "忠诚"),
        ({"tenure_months": None}, 0.9, None),
    ],
)
def test_lifecycle_stage_order_and_bounds(record, churn, stage):
    assert lifecycle_stage(record, churn) == stage


@pytest.mark.parametrize(
    ("record", "level"),
    [
        ({"survey_score": 5, "complaints_6m": 0}, "不满意"),
        ({"survey_score": 6, "complaints_6m": 0}, "一般"),
        ({"survey_score": 7, "complaints_6m": 0}, "一般"),
        ({"survey_score": 8, "complaints_6m": 0}, "满意"),
        ({"survey_score": 10, "complaints_6m": 1}, "一般"),  # a complaint: not 满意
        ({"survey_score": 10, "complaints_6m": 2}, "不满意"),  # 2+ complaints beat the score
        ({"survey_score": None, "complaints_6m": 1}, "一般"),
        ({"survey_score": None, "complaints_6m": 2}, "不满意"),
        ({"survey_score": 9}, "满意"),  # no complaints column: none counted
        ({"survey_score": None, "complaints_6m": None}, None),
    ],
)
def test_satisfaction_rules(record, level):
    assert satisfaction(record)["level"] == level
