"""Request and answer shapes of the HTTP API, with the examples shown in the OpenAPI docs."""

from __future__ import annotations

from pydantic import BaseModel, Field


class ClassifyRequest(BaseModel):
    """One text in ``text`` or a batch in ``texts``; exactly one of the two."""

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
    spam: bool = Field(description="Whether the spam filter flags the text.")
    spam_probability: float


class ModelRef(BaseModel):
    name: str
    version: str
    alias: str


class ClassifyResponse(BaseModel):
    results: list[DemandAnswer] = Field(description="One answer per text, in request order.")
    models: list[ModelRef] = Field(description="The model versions that answered.")


class LoadedModel(ModelRef):
    run_id: str
    loaded_at: str
    classes: list[str]


class ModelsResponse(BaseModel):
    alias: str
    models: list[LoadedModel]
    failures: dict[str, str]


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
        }
    ],
    "models": [
        {"name": "demand-classifier", "version": "1", "alias": "production"},
        {"name": "spam-filter", "version": "1", "alias": "production"},
    ],
}
