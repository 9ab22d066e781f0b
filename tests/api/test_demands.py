"""POST /v1/demands/classify through httpx, against models in a real MLflow store."""

import json
import logging

import pytest

URL = "/v1/demands/classify"
SECRET = "我叫张三电话13800000000地址幸福路8号"


def test_one_text_gets_category_top3_spam_and_model_versions(api):
    response = api.post(URL, json={"text": "宽带从昨晚就断网了，报修也没人来"})
    assert response.status_code == 200
    body = response.json()
    (result,) = body["results"]
    assert 0 <= result["confidence"] <= 1
    top = result["top_categories"]
    assert len(top) == 3 and top[0]["category"] == result["category"]
    assert top[0]["probability"] >= top[1]["probability"] >= top[2]["probability"]
    assert isinstance(result["spam"], bool) and 0 <= result["spam_probability"] <= 1
    assert {m["name"] for m in body["models"]} == {"demand-classifier", "spam-filter"}
    assert all(m["alias"] == "production" and m["version"] for m in body["models"])


def test_a_batch_gets_one_answer_per_text_in_order(api, demand_corpus):
    rows = demand_corpus.head(20)
    response = api.post(URL, json={"texts": rows["text"].tolist()})
    results = response.json()["results"]
    assert len(results) == 20
    demands = rows["category"].notna().to_numpy()
    right = sum(r["category"] == c for r, c, d in zip(results, rows["category"], demands) if d)
    assert right >= 0.6 * demands.sum()  # texts the model was trained on


def test_batch_answers_equal_one_by_one_answers(api):
    texts = ["话费账单不对", "点击链接领取大奖 http://a.cn", "信号太差了"]
    batch = api.post(URL, json={"texts": texts}).json()["results"]
    singles = [api.post(URL, json={"text": t}).json()["results"][0] for t in texts]
    assert batch == singles


def test_spam_is_flagged(api):
    spam = "恭喜您获得澳门赌场大奖，点击 http://bit.ly/x8 加微信领取，低息贷款秒到账"
    result = api.post(URL, json={"text": spam}).json()["results"][0]
    assert result["spam"] is True and result["spam_probability"] >= 0.5


def test_chinese_is_plain_utf8_not_escaped(api):
    response = api.post(URL, json={"text": "流量用完了"})
    assert "\\u" not in response.text
    assert response.json()["results"][0]["category"] in response.content.decode("utf-8")


def _problem(response, status):
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    return response.json()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"text": ""}, "text"),
        ({"text": "   \n"}, "text"),
        ({"texts": ["好的", " "]}, "texts[1]"),
        ({"texts": []}, "texts"),
        ({}, "text"),
        ({"text": "a", "texts": ["b"]}, "text"),
        ({"text": 12}, "text"),
        ({"texts": "不是列表"}, "texts"),
        ({"texts": ["ok", 5]}, "texts[1]"),
        ({"text": "长" * 2001}, "text"),
        ({"text": "宽带\ud800断网"}, "text"),  # half a surrogate pair: no Unicode text
        ({"texts": ["ok", "\udfff"]}, "texts[1]"),
    ],
)
def test_bad_input_gets_a_422_naming_the_field(api, body, field):
    # As ASCII JSON: a half surrogate pair travels as its \\u escape
    sent = json.dumps(body).encode()
    problem = _problem(
        api.post(URL, content=sent, headers={"Content-Type": "application/json"}), 422
    )
    assert field in [error["field"] for error in problem["errors"]]
    assert problem["status"] == 422 and problem["title"]


def test_a_batch_over_the_limit_gets_422(api):
    problem = _problem(api.post(URL, json={"texts": ["流量"] * 65}), 422)
    assert problem["errors"][0]["field"] == "texts"
    assert "64" in problem["detail"]


def test_invalid_json_gets_400(api):
    response = api.post(URL, content=b'{"text": "abc', headers={"content-type": "application/json"})
    assert _problem(response, 400)["errors"][0]["field"] == "body"


def test_errors_and_logs_never_echo_the_customer_text(api, caplog):
    caplog.set_level(logging.DEBUG)
    for body in ({"text": SECRET * 200}, {"texts": [SECRET, 7]}, {"text": SECRET, "texts": []}):
        response = api.post(URL, json=body)
        assert response.status_code == 422
        assert "张三" not in response.text and "13800000000" not in response.text
    assert "张三" not in caplog.text


def test_request_id_is_echoed_or_made_up(api):
    given = api.post(URL, json={"text": "查账单"}, headers={"X-Request-ID": "abc-123"})
    assert given.headers["x-request-id"] == "abc-123"
    assert len(api.post(URL, json={"text": "查账单"}).headers["x-request-id"]) == 32


def test_unknown_route_is_a_problem_too(api):
    assert _problem(api.get("/v1/nothing"), 404)["status"] == 404
