"""The customer endpoints: score, store, profile; against the four models in a real MLflow store."""

import math
import time

import pytest

from training.customers.schema import LABEL_COLUMNS

SCORE = "/v1/customers/score"


def _features(customer_world, row: int) -> dict:
    record = customer_world.drop(columns=["customer_id", *LABEL_COLUMNS]).iloc[row].to_dict()
    return {
        k: (None if isinstance(v, float) and math.isnan(v) else _plain(v))
        for k, v in record.items()
    }


def _plain(value):
    return value.item() if hasattr(value, "item") else value


@pytest.fixture
def two_customers(customer_world):
    return [
        {"customer_id": f"C{row}", "features": _features(customer_world, row)} for row in (0, 1)
    ]


def test_score_answers_every_model_for_each_customer(full_api, two_customers):
    response = full_api.post(SCORE, json={"customers": two_customers})
    assert response.status_code == 200, response.text
    body = response.json()
    assert [r["customer_id"] for r in body["results"]] == ["C0", "C1"]
    scores = body["results"][0]["scores"]
    assert set(scores) == {"churn", "channel-preference", "occupation", "content-preference"}
    assert 0 <= scores["churn"]["churn_probability"] <= 1
    assert scores["churn"]["churn_risk_level"] in {"低", "中", "高", "极高"}
    factors = scores["churn"]["risk_factors"]
    assert all(f["push"] > 0 and f["feature"] in two_customers[0]["features"] for f in factors)
    assert scores["channel-preference"]["app_level"] in {
        "基本不接触",
        "偶尔接触",
        "普通依赖",
        "较依赖",
        "依赖",
    }
    assert scores["occupation"]["occupation"] in {
        "学生",
        "商务人士",
        "外来务工者",
        "年轻白领",
        "低收入人群",
        "司机",
    }
    assert len([k for k in scores["content-preference"] if k.endswith("_score")]) == 8
    assert {m["name"] for m in body["models"]} == set(scores)


def test_score_can_ask_for_some_models_only(full_api, two_customers):
    body = full_api.post(SCORE, json={"customers": two_customers, "models": ["churn"]}).json()
    assert set(body["results"][1]["scores"]) == {"churn"}
    assert [m["name"] for m in body["models"]] == ["churn"]


def test_missing_and_malformed_features_are_named(full_api, two_customers):
    features = dict(two_customers[0]["features"])
    del features["tenure_months"]
    features["age"] = "thirty"
    response = full_api.post(
        SCORE, json={"customers": [{"features": features}], "models": ["churn"]}
    )
    assert response.status_code == 422
    fields = {e["field"]: e["message"] for e in response.json()["errors"]}
    assert fields["customers[0].features.tenure_months"] == "missing"
    assert "number" in fields["customers[0].features.age"]
    assert "thirty" not in response.text


def test_blank_features_are_allowed(full_api, two_customers):
    features = dict(two_customers[0]["features"], survey_score=None, voice_minutes=None)
    response = full_api.post(SCORE, json={"customers": [{"features": features}]})
    assert response.status_code == 200


def test_unknown_model_and_oversized_batches_are_refused(full_api, two_customers):
    unknown = full_api.post(SCORE, json={"customers": two_customers, "models": ["astrology"]})
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "models"
    too_many = full_api.post(SCORE, json={"customers": two_customers * 51})
    assert too_many.status_code == 422 and too_many.json()["errors"][0]["field"] == "customers"
    empty = full_api.post(SCORE, json={"customers": []})
    assert empty.status_code == 422


def test_put_get_and_profile(full_api, two_customers):
    features = two_customers[0]["features"]
    put = full_api.put("/v1/customers/C-42", json={"features": features})
    assert put.status_code == 200 and put.json()["customer_id"] == "C-42"
    got = full_api.get("/v1/customers/C-42").json()
    assert got["features"]["tenure_months"] == features["tenure_months"]

    profile = full_api.get("/v1/customers/C-42/profile").json()
    assert set(profile["scores"]) == {
        "churn",
        "channel-preference",
        "occupation",
        "content-preference",
    }
    assert profile["value"]["segment"] in {"高价值", "中价值", "低价值"}
    assert profile["lifecycle_stage"] in {"潜在", "新客", "成长", "忠诚", "流失风险", "已流失"}
    assert profile["satisfaction"]["level"] in {"满意", "一般", "不满意"}
    assert {m["name"] for m in profile["models"]} == set(profile["scores"])

    updated = dict(features, tenure_months=3)
    full_api.put("/v1/customers/C-42", json={"features": updated})
    assert full_api.get("/v1/customers/C-42").json()["features"]["tenure_months"] == 3


def test_the_latest_scores_of_a_stored_customer_are_read_back_without_scoring(
    full_api, two_customers
):
    """Recorded off the request path (by the capture worker), so read with a deadline."""
    customer_id = f"C-latest-{time.monotonic_ns()}"
    assert full_api.put(f"/v1/customers/{customer_id}", json=two_customers[0]).status_code == 200
    assert full_api.get(f"/v1/customers/{customer_id}").json()["latest_scores"] == {}
    profile = full_api.get(f"/v1/customers/{customer_id}/profile").json()
    scored = {**two_customers[1], "customer_id": customer_id}  # a score call, by id, later
    answer = full_api.post(SCORE, json={"customers": [scored], "models": ["churn"]}).json()
    deadline = time.monotonic() + 30
    while True:
        latest = full_api.get(f"/v1/customers/{customer_id}").json()["latest_scores"]
        if (
            len(latest) == 4
            and latest["churn"]["output"] == answer["results"][0]["scores"]["churn"]
        ):
            break
        assert time.monotonic() < deadline, latest
        time.sleep(0.1)
    versions = {model["name"]: model["version"] for model in profile["models"]}
    for name, score in latest.items():
        assert score["model_version"] == versions[name] and score["model_alias"] == "production"
        if name != "churn":  # the profile's answer; churn's was replaced by the later score
            assert score["output"] == profile["scores"][name]
    assert latest["churn"]["scored_at"] > latest["occupation"]["scored_at"]


def test_an_unknown_customer_is_404(full_api):
    for path in ("/v1/customers/nobody", "/v1/customers/nobody/profile"):
        response = full_api.get(path)
        assert response.status_code == 404
        assert response.headers["content-type"].startswith("application/problem+json")
        assert "nobody" not in response.json()["detail"]  # an id may be personal data


def test_put_refuses_a_record_the_profile_could_not_answer(full_api, two_customers):
    empty = full_api.put("/v1/customers/C-empty", json={"features": {}})
    assert empty.status_code == 422
    fields = {e["field"]: e["message"] for e in empty.json()["errors"]}
    assert fields["features"] == "must hold at least one feature"
    assert fields["features.age"] == "missing" and fields["features.tenure_months"] == "missing"

    features = dict(two_customers[0]["features"], age="abc", city_tier=1.5, gender="unknown")
    response = full_api.put("/v1/customers/C-bad", json={"features": features})
    assert response.status_code == 422
    fields = {e["field"]: e["message"] for e in response.json()["errors"]}
    assert fields == {  # the import's rules, in the import's words
        "features.age": "not a whole number",
        "features.city_tier": "not a whole number",
        "features.gender": "not one of 男, 女",
    }
    assert "abc" not in response.text and "unknown" not in response.text
    assert full_api.get("/v1/customers/C-bad").status_code == 404
    assert full_api.get("/v1/customers/C-empty").status_code == 404


def test_put_keeps_columns_the_models_do_not_know(full_api, two_customers):
    features = dict(two_customers[0]["features"], vip_level="金卡", survey_score=None)
    assert full_api.put("/v1/customers/C-vip", json={"features": features}).status_code == 200
    assert full_api.get("/v1/customers/C-vip/profile").status_code == 200


def test_channel_preference_report_shares_levels_over_stored_customers(full_api, two_customers):
    from app.db.session import session_scope
    from app.services.customer_store import upsert_customer

    for number, customer in enumerate(two_customers):
        full_api.put(f"/v1/customers/R-{number}", json={"features": customer["features"]})
    # As an import may store it (the API refuses a record the models cannot score).
    with session_scope(full_api.app.state.sessions) as session:
        upsert_customer(session, customer_id="R-bare", record={"age": 30})
    report = full_api.get("/v1/reports/channel-preference").json()
    assert report["customers_scored"] >= 2
    assert report["customers_not_scorable"] >= 1
    assert set(report["shares"]) == {"store", "web", "app", "sms", "hotline", "kiosk"}
    for levels in report["shares"].values():
        assert sum(levels.values()) == pytest.approx(1.0)
    assert report["model"]["name"] == "channel-preference"


def test_one_pass_over_all_four_models_answers_as_each_model_alone(full_api, customer_world):
    from app.services.customer_scoring import customer_models, score_customers

    serving = full_api.app.state.catalog.serving("production")
    assert serving.joint is not None
    assert len(serving.joint.targets) == 16  # churn 1, channels 6, occupation 1, content 8
    records = [_features(customer_world, row) for row in range(20)]
    models = customer_models(serving, None)
    together = score_customers(records, models, joint=serving.joint)
    alone = score_customers(records, models)
    _assert_same(together, alone)


def _assert_same(ours: list[dict], theirs: list[dict]) -> None:
    for mine, expected in zip(ours, theirs, strict=True):
        for model, answer in expected.items():
            for key, value in answer.items():
                if isinstance(value, float):
                    assert mine[model][key] == pytest.approx(value, abs=1e-9), (model, key)
                else:
                    assert mine[model][key] == value, (model, key)
