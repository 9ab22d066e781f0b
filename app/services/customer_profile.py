"""A customer's 客户画像: plain analytics from the stored record, beside the models' answers.

The rules read the built-in world's columns; a record without them gets ``None`` and the
reason, never a guess.
"""

from __future__ import annotations

from typing import Any

# Mean monthly spend (yuan) at or above which a customer is in a value segment, highest first;
# below the last bound (credits and refunds make a negative bill), 低价值.
VALUE_SEGMENTS = ((150.0, "高价值"), (60.0, "中价值"))
LOWEST_SEGMENT = "低价值"
NEW_CUSTOMER_MONTHS = 6
LOYAL_MONTHS = 24
CHURN_RISK_FOR_LIFECYCLE = 0.35  # the lower bound of the 高 churn risk level


def value_segment(record: dict[str, Any]) -> dict[str, Any]:
    """RFM-style: how much the customer spends a month, and which way it is going."""
    spends = [record.get(f"spend_m{i}") for i in (1, 2, 3)]
    spends = [s for s in spends if isinstance(s, int | float)]
    if not spends:
        return {"segment": None, "reason": "no spend_m1..spend_m3 in the record"}
    mean = sum(spend / len(spends) for spend in spends)  # never overflows to infinity
    segment = next((label for bound, label in VALUE_SEGMENTS if mean >= bound), LOWEST_SEGMENT)
    return {
        "segment": segment,
        "mean_monthly_spend": round(mean, 2),
        "spend_trend": record.get("spend_trend"),
    }


def lifecycle_stage(record: dict[str, Any], churn_probability: float | None) -> str | None:
    """潜在 / 新客 / 成长 / 忠诚 / 流失风险 / 已流失, from tenure, trend and churn risk."""
    if record.get("churned") in (1, True, "1", "yes"):
        return "已流失"
    tenure = record.get("tenure_months")
    if not isinstance(tenure, int | float):
        return None
    if tenure <= 0:
        return "潜在"
    if churn_probability is not None and churn_probability >= CHURN_RISK_FOR_LIFECYCLE:
        return "流失风险"
    if tenure < NEW_CUSTOMER_MONTHS:
        return "新客"
    return "忠诚" if tenure >= LOYAL_MONTHS else "成长"


def satisfaction(record: dict[str, Any]) -> dict[str, Any]:
    """From the survey score (1-10, often missing) and complaints in the last six months."""
    score, complaints = record.get("survey_score"), record.get("complaints_6m")
    if not isinstance(complaints, int | float) and not isinstance(score, int | float):
        return {"level": None, "reason": "no survey_score or complaints_6m in the record"}
    complaints = complaints if isinstance(complaints, int | float) else 0
    if (isinstance(score, int | float) and score <= 5) or complaints >= 2:
        level = "不满意"
    elif isinstance(score, int | float) and score >= 8 and complaints == 0:
        level = "满意"
    else:
        level = "一般"
    return {"level": level, "survey_score": score, "complaints_6m": complaints}
