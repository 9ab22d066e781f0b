"""Request and answer shapes of the HTTP API, with the examples shown in the OpenAPI docs."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.services.customer_ids import CUSTOMER_ID_RULE, CustomerId
from app.services.feedback import FeedbackItem


class FieldProblem(BaseModel):
    field: str = Field(description="The field, as `customers[0].features.age` or `X-Model-Alias`.")
    message: str = Field(description="The rule it breaks.")


class Problem(BaseModel):
    """An error answer (RFC 9457, `application/problem+json`). It names fields and rules, and
    never repeats a customer's id or text."""

    type: str = Field("about:blank", description="Always `about:blank`: the status says it.")
    title: str
    status: int
    detail: str
    instance: str | None = Field(
        None, description="The route's template (`/v1/customers/{customer_id}`), not the path."
    )
    errors: list[FieldProblem] | None = Field(None, description="Each field that is wrong.")
    missing_scope: str | None = Field(None, description="403: the scope the API key lacks.")


class ClassifyRequest(BaseModel):
    """One text in ``text`` or a batch in ``texts``; exactly one of the two."""

    model_config = ConfigDict(
        json_schema_extra={
            "oneOf": [
                {"required": ["text"], "properties": {"text": {"type": "string"}}},
                {"required": ["texts"], "properties": {"texts": {"type": "array"}}},
            ]
        }
    )

    text: str | None = Field(None, description="One customer text.")
    texts: list[str] | None = Field(
        None, description="A batch of customer texts (at most INSIGHT_MAX_TEXTS_PER_REQUEST)."
    )


class CategoryProbability(BaseModel):
    category: str
    probability: float


class DemandAnswer(BaseModel):
    category: str = Field(description="The most likely demand category.")
    confidence: float = Field(description="Calibrated probability of that category.")
    top_categories: list[CategoryProbability] = Field(description="The three likeliest.")
    spam: bool = Field(
        description="Whether the spam filter flags the text (only when it is sure: never on an "
        "answer that needs review)."
    )
    spam_probability: float
    needs_review: bool = Field(
        description="A person should read the text before anyone acts on this answer: a model "
        "is less confident than its training showed to be reliable (by default, 95% right), or "
        "the text holds no word the models learned from (only digits, a greeting, another "
        "language)."
    )


class ModelRef(BaseModel):
    name: str
    version: str
    alias: str


class ClassifyResponse(BaseModel):
    results: list[DemandAnswer] = Field(description="One answer per text, in request order.")
    models: list[ModelRef] = Field(description="The model versions that answered.")


class LoadedModel(ModelRef):
    run_id: str
    loaded_at: str = Field(description="When this version was loaded (swapped in), UTC.")
    outputs: list[str] = Field(description="A text model's classes; a customer model's targets.")


class LoadFailureOut(BaseModel):
    """A model's alias without the serving version it should have; the old one keeps serving."""

    model_config = ConfigDict(from_attributes=True)  # read straight from a LoadFailure

    model: str
    alias: str
    version: str | None = Field(description="The version that failed; null: none to load.")
    error: str
    at: datetime


class ModelsResponse(BaseModel):
    alias: str = Field(description="The deployment's alias: what answers without X-Model-Alias.")
    models: list[LoadedModel] = Field(description="Every loaded version, production and staging.")
    failures: list[LoadFailureOut]
    checked_at: datetime | None = Field(description="The last check of the registry.")


class ComponentOut(BaseModel):
    """One part the service relies on: its state, since when, and why it is down."""

    model_config = ConfigDict(from_attributes=True)  # read straight from a ComponentState

    state: Literal["ready", "loading", "down"]
    since: datetime
    error: str | None = Field(None, description="When down: what failed (an error's type).")


class Readiness(BaseModel):
    status: Literal["ready", "degraded", "not ready"] = Field(
        description="not ready (503): the models cannot answer; degraded (200): they can, "
        "but the app database or the registry is down."
    )
    alias: str = Field(description="The deployment's alias.")
    loading: bool = Field(description="The first load is still under way.")
    loaded: dict[str, dict[str, str]] = Field(description="Per alias, model name -> version.")
    unavailable: dict[str, str] = Field(
        description="Models that cannot answer for the deployment's alias, and why."
    )
    failures: list[LoadFailureOut]
    checked_at: datetime | None
    components: dict[str, ComponentOut] = Field(
        description="models, app_database and registry: each one's state and since when."
    )


class AliasCheckOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)  # read straight from an AliasCheck

    model: str
    alias: str
    version: str | None = Field(description="Serving now; for a failure, the version that failed.")
    previous_version: str | None = None
    error: str | None = None


class WorkersOut(BaseModel):
    confirmed: int = Field(description="Live workers that have checked the registry for this call.")
    live: int = Field(description="Workers of the deployment seen in the last few seconds.")


class RefreshResponse(BaseModel):
    checked_at: datetime | None
    workers: WorkersOut = Field(
        description="The refresh reaches every worker of the deployment; how many confirmed "
        "within INSIGHT_REFRESH_WAIT_SECONDS."
    )
    swapped: list[AliasCheckOut] = Field(description="New versions now serving.")
    removed: list[AliasCheckOut] = Field(description="Staged versions unloaded: alias unset.")
    failed: list[AliasCheckOut] = Field(description="Not swapped in; the old version serves.")
    unchanged: list[AliasCheckOut]


CLASSIFY_EXAMPLES = {
    "one text": {
        "summary": "一条客户诉求",
        "value": {"text": "我的宽带从昨天晚上就一直断网，报修了也没人来，太耽误事了"},
    },
    "batch": {
        "summary": "批量分类",
        "value": {
            "texts": [
                "这个月话费怎么多扣了30块，帮我查下账单",
                "恭喜您中奖了！点击 http://x.cn/abc 领取iPhone，加微信 vip888",
                "出国去日本想开通国际漫游，流量包怎么收费",
            ]
        },
    },
}

CLASSIFY_ANSWER_EXAMPLE = {
    "results": [
        {
            "category": "宽带故障",
            "confidence": 0.93,
            "top_categories": [
                {"category": "宽带故障", "probability": 0.93},
                {"category": "投诉建议", "probability": 0.04},
                {"category": "网络信号", "probability": 0.01},
            ],
            "spam": False,
            "spam_probability": 0.01,
            "needs_review": False,
        }
    ],
    "models": [
        {"name": "demand-classifier", "version": "1", "alias": "production"},
        {"name": "spam-filter", "version": "1", "alias": "production"},
    ],
}


class CustomerFeatures(BaseModel):
    customer_id: CustomerId | None = Field(
        None, description=f"Echoed in the answer; optional. {CUSTOMER_ID_RULE}."
    )
    features: dict[str, Any] = Field(description="The feature record, by the model signature.")


class ScoreRequest(BaseModel):
    customers: list[CustomerFeatures] = Field(
        description="One or many customers (at most INSIGHT_MAX_CUSTOMERS_PER_REQUEST)."
    )
    models: list[str] | None = Field(
        None, description="Customer models to ask; all four when absent."
    )


class CustomerScores(BaseModel):
    customer_id: str | None
    scores: dict[str, dict[str, Any]] = Field(description="Each model's answer, by model name.")


class ScoreResponse(BaseModel):
    results: list[CustomerScores]
    models: list[ModelRef]


class CustomerPut(BaseModel):
    features: dict[str, Any] = Field(description="The customer's feature record.")


class LatestScore(BaseModel):
    """A model's latest answer for the customer, recorded from a score or profile call."""

    model_config = ConfigDict(from_attributes=True, protected_namespaces=())

    model_version: str
    model_alias: str | None
    output: dict[str, Any]
    scored_at: datetime


class CustomerOut(BaseModel):
    customer_id: str
    features: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    latest_scores: dict[str, LatestScore] | None = Field(
        None,
        description="GET only: each customer model's latest answer from the production alias, "
        "by model name, recorded from score and profile calls (within a few seconds, by the "
        "capture worker; none while capture is off). Compare `scored_at` with `updated_at`: "
        "a score older than the record was for the record before.",
    )

    @classmethod
    def of(cls, customer: Any, *, scores: list[Any] | None = None) -> CustomerOut:
        return cls(
            customer_id=customer.customer_id,
            features=customer.record,
            created_at=customer.created_at,
            updated_at=customer.updated_at,
            latest_scores=None
            if scores is None
            else {score.model_name: LatestScore.model_validate(score) for score in scores},
        )


class ProfileResponse(BaseModel):
    customer: CustomerOut
    scores: dict[str, dict[str, Any]]
    value: dict[str, Any] = Field(description="Value segment (RFM-style) from monthly spend.")
    lifecycle_stage: str | None = Field(description="潜在 / 新客 / 成长 / 忠诚 / 流失风险 / 已流失")
    satisfaction: dict[str, Any]
    models: list[ModelRef]


class ChannelPreferenceReport(BaseModel):
    customers_scored: int
    customers_not_scorable: int = Field(description="Stored records lacking needed features.")
    shares: dict[str, dict[str, float]] = Field(
        description="Per channel, the share of scored customers at each level "
        "(基本不接触 / 偶尔接触 / 普通依赖 / 较依赖 / 依赖)."
    )
    model: ModelRef


_EXAMPLE_FEATURES = {
    "age": 34,
    "gender": "男",
    "region": "华东",
    "city_tier": 1,
    "plan_name": "畅享套餐",
    "plan_monthly_fee": 128.0,
    "tenure_months": 7,
    "contract_type": "无合约",
    "contract_months_left": 0,
    "spend_m1": 96.5,
    "spend_m2": 118.0,
    "spend_m3": 131.2,
    "complaints_6m": 2,
    "survey_score": None,
}

SCORE_EXAMPLES = {
    "one customer": {
        "summary": "一位客户（特征按模型签名给出，此处只列出部分）",
        "value": {"customers": [{"customer_id": "C00000001", "features": _EXAMPLE_FEATURES}]},
    },
    "churn only": {
        "summary": "只要流失预警",
        "value": {
            "customers": [{"customer_id": "C00000001", "features": _EXAMPLE_FEATURES}],
            "models": ["churn"],
        },
    },
}


class FeedbackRequest(BaseModel):
    items: list[FeedbackItem] = Field(
        min_length=1,
        description="Corrections and outcomes (at most INSIGHT_MAX_FEEDBACK_PER_REQUEST); "
        "stored all together or, if one is wrong, not at all.",
    )


class FeedbackResponse(BaseModel):
    stored: int = Field(description="Items stored (a batch's repeats of one key count once).")
    created: int = Field(description="Of those, feedback not given before.")
    replaced: int = Field(description="Of those, feedback that replaced what its key held.")


FEEDBACK_EXAMPLES = {
    "correction": {
        "summary": "Correct a classified text, by its request id",
        "value": {
            "items": [
                {
                    "kind": "text",
                    "request_id": "3f2b8c1e9a4d4e0f8b7a6c5d4e3f2a1b",
                    "index": 0,
                    "category": "资费套餐",
                    "spam": False,
                    "corrected_by": "坐席0421",
                }
            ]
        },
    },
    "outcome": {
        "summary": "A customer's observed outcome",
        "value": {
            "items": [
                {
                    "kind": "outcome",
                    "customer_id": "C00000001",
                    "as_of": "2026-11-30",
                    "churned": True,
                    "channels": ["app", "hotline"],
                    "reported_by": "数据仓库",
                }
            ]
        },
    },
}
