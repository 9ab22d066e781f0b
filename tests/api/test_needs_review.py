"""Answers a CRM must not act on alone say `needs_review`; Traditional characters are read as
their Simplified forms. Against a demand classifier trained on enough texts to be sure of
clear complaints (the session's small one is unsure of most answers, rightly)."""

from collections.abc import Iterator

import opencc
import pytest
from fastapi.testclient import TestClient

from tests.conftest import promoted_text_models, service_client, settings_for, wait_until_ready
from training.text.corpus import generate_demands

URL = "/v1/demands/classify"
NO_EVIDENCE = ["12345", "13800000000", "你好", "你好，在吗？", "谢谢", "my broadband is down"]
CLEAR_COMPLAINTS = [
    "宽带从昨晚就断网了，报修也没人来",
    "这个月话费账单多扣了50元",
    "流量用完了",
    "国际漫游怎么开通",
]


@pytest.fixture(scope="module")
def api(tmp_path_factory) -> Iterator[TestClient]:
    store = promoted_text_models(
        tmp_path_factory.mktemp("review-mlflow"),
        generate_demands(4000, seed=7),
        candidates="default",
    )
    with service_client(settings_for(store)) as client:
        wait_until_ready(client)
        yield client


def _answers(api: TestClient, texts: list[str]) -> list[dict]:
    response = api.post(URL, json={"texts": texts})
    assert response.status_code == 200, response.text
    return response.json()["results"]


def test_texts_without_evidence_need_review_and_are_never_flagged_as_spam(api):
    for text, answer in zip(NO_EVIDENCE, _answers(api, NO_EVIDENCE)):
        assert answer["needs_review"], text
        assert answer["spam"] is False, text


def test_clear_complaints_do_not_need_review(api):
    for text, answer in zip(CLEAR_COMPLAINTS, _answers(api, CLEAR_COMPLAINTS)):
        assert not answer["needs_review"], (text, answer)
        assert answer["spam"] is False


def test_a_sure_answer_on_spam_still_flags_it(api):
    spam = "恭喜您获得澳门赌场大奖，点击 http://bit.ly/x8 加微信领取，低息贷款秒到账"
    (answer,) = _answers(api, [spam])
    assert answer["spam"] is True and not answer["needs_review"]


def test_traditional_characters_classify_like_their_simplified_form(api):
    to_traditional, to_simplified = opencc.OpenCC("s2t"), opencc.OpenCC("t2s")
    simplified = [
        "宽带从昨晚就断网了，报修也没人来",
        "国际漫游怎么开通",
        "手机信号太差了，打电话老是断",
        "我要办理携号转网",
        "积分怎么兑换话费",
    ]
    traditional = [to_traditional.convert(text) for text in simplified]
    assert all(t != s for t, s in zip(traditional, simplified))  # really written otherwise
    assert [to_simplified.convert(text) for text in traditional] == simplified
    assert _answers(api, traditional) == _answers(api, simplified)
    (broadband,) = _answers(api, ["寬頻斷網三天了"])
    assert broadband["category"] == "宽带故障"


def test_full_width_text_classifies_like_half_width(api):
    assert _answers(api, ["ＡＰＰ登录不了，５Ｇ信号差"]) == _answers(api, ["APP登录不了,5G信号差"])
