"""The Open Inference Protocol (V2) beside /v1, in process: health, metadata from the MLflow
signature, inference in every input form with the same answers as /v1, and the protocol's
errors ({"error": ...}, 400 for invalid input) naming the input."""

from __future__ import annotations

import json

import pytest

from tests.conftest import (
    CUSTOMER_MODEL_NAMES,
    TEXT_MODELS,
    service_client,
    settings_for,
    wait_until_ready,
)
from tests.open_inference import text_request

TEXTS = [
    "宽带从昨晚就断网了，报修也没人来",
    "恭喜中奖！点击 http://x.cn 加微信领取",
    "我想换个便宜点的套餐",
]


@pytest.fixture(scope="module")
def api(full_store):
    """The app serving all six models, started once for the module."""
    settings = settings_for(full_store, served_models=TEXT_MODELS + list(CUSTOMER_MODEL_NAMES))
    with service_client(settings) as client:
        wait_until_ready(client)
        yield client


@pytest.fixture(scope="module")
def customers(customer_world):
    from training.customers.schema import LABEL_COLUMNS

    frame = customer_world.drop(columns=[c for c in LABEL_COLUMNS if c in customer_world])
    return json.loads(frame.drop(columns=["customer_id"]).head(5).to_json(orient="records"))


def columns_request(records, metadata) -> dict:
    """MLServer's pd form: one input per feature column, the content type on the request."""
    return {
        "parameters": {"content_type": "pd"},
        "inputs": [
            {
                "name": tensor["name"],
                "datatype": tensor["datatype"],
                "shape": [len(records)],
                "data": [record[tensor["name"]] for record in records],
            }
            for tensor in metadata["inputs"]
        ],
    }


def test_health_and_server_metadata_need_no_key(api):
    anonymous = {"Authorization": ""}
    assert api.get("/v2/health/live", headers=anonymous).json() == {"live": True}
    assert api.get("/v2/health/ready", headers=anonymous).json() == {"ready": True}
    server = api.get("/v2", headers=anonymous).json()
    assert server["name"] == "customer-insight" and server["extensions"] == []
    ready = api.get("/v2/models/churn/ready", headers=anonymous)
    assert ready.status_code == 200 and ready.json() == {"name": "churn", "ready": True}


def test_v2_is_left_to_the_protocol_s_specification_not_our_openapi(api):
    assert not [path for path in api.get("/openapi.json").json()["paths"] if "/v2" in path]


def test_metadata_is_the_signature(api):
    churn = api.get("/v2/models/churn").json()
    version = api.get("/v1/models/churn").json()["version"]
    assert churn["name"] == "churn" and churn["versions"] == [version]
    inputs = {tensor["name"]: tensor for tensor in churn["inputs"]}
    assert inputs["age"] == {"name": "age", "datatype": "INT64", "shape": [-1]}
    assert inputs["spend_m1"]["datatype"] == "FP64"
    assert inputs["region"]["datatype"] == "BYTES"
    assert [t["name"] for t in churn["outputs"]] == ["churn_probability", "churn_risk_level"]
    assert [t["datatype"] for t in churn["outputs"]] == ["FP64", "BYTES"]

    demand = api.get(f"/v2/models/demand-classifier/versions/{version}").json()
    assert demand["inputs"] == [{"name": "text", "datatype": "BYTES", "shape": [-1]}]
    outputs = {tensor["name"]: tensor for tensor in demand["outputs"]}
    assert list(outputs) == ["category", "confidence", "probabilities", "needs_review"]
    classes = json.loads(outputs["probabilities"]["parameters"]["classes"])
    assert outputs["probabilities"]["shape"] == [-1, len(classes)]
    assert "宽带故障" in classes


def test_text_inference_answers_as_v1(api):
    v1 = api.post("/v1/demands/classify", json={"texts": TEXTS}).json()["results"]
    reply = api.post("/v2/models/demand-classifier/infer", json=text_request(TEXTS, id="42"))
    assert reply.status_code == 200, reply.text
    answer = reply.json()
    assert answer["id"] == "42" and answer["model_name"] == "demand-classifier"
    assert answer["parameters"] == {"alias": "production"}
    outputs = {tensor["name"]: tensor for tensor in answer["outputs"]}
    assert outputs["category"]["data"] == [r["category"] for r in v1]
    assert outputs["confidence"]["data"] == [r["confidence"] for r in v1]
    classes = json.loads(outputs["probabilities"]["parameters"]["classes"])
    assert outputs["probabilities"]["shape"] == [len(TEXTS), len(classes)]
    rows = [
        outputs["probabilities"]["data"][i * len(classes) : (i + 1) * len(classes)]
        for i in range(len(TEXTS))
    ]
    for row, result in zip(rows, v1):
        for top in result["top_categories"]:
            assert row[classes.index(top["category"])] == top["probability"]

    spam = api.post("/v2/models/spam-filter/infer", json=text_request(TEXTS)).json()
    found = {tensor["name"]: tensor["data"] for tensor in spam["outputs"]}
    assert found["spam"] == [r["spam"] for r in v1]
    assert found["spam_probability"] == [r["spam_probability"] for r in v1]
    assert len(spam["id"]) == 32  # none given: the X-Request-ID answered with


def test_customer_inference_in_both_forms_answers_as_v1(api, customers):
    v1 = api.post(
        "/v1/customers/score",
        json={"customers": [{"features": r} for r in customers], "models": ["churn"]},
    ).json()["results"]
    metadata = api.get("/v2/models/churn").json()
    by_columns = api.post("/v2/models/churn/infer", json=columns_request(customers, metadata))
    assert by_columns.status_code == 200, by_columns.text
    names = [tensor["name"] for tensor in metadata["inputs"]]
    # One BYTES tensor [rows, columns], the values as tritonclient sends them: strings.
    table = {
        "inputs": [
            {
                "name": "features",
                "datatype": "BYTES",
                "shape": [len(customers), len(names)],
                "data": [[str(record[name]) for name in names] for record in customers],
            }
        ]
    }
    by_tensor = api.post("/v2/models/churn/infer", json=table)
    assert by_tensor.status_code == 200, by_tensor.text
    for reply in (by_columns, by_tensor):
        outputs = {tensor["name"]: tensor for tensor in reply.json()["outputs"]}
        assert outputs["churn_probability"]["shape"] == [len(customers)]
        assert outputs["churn_probability"]["data"] == [
            r["scores"]["churn"]["churn_probability"] for r in v1
        ]
        assert outputs["churn_risk_level"]["data"] == [
            r["scores"]["churn"]["churn_risk_level"] for r in v1
        ]


def test_requested_outputs_only_and_in_their_order(api, customers):
    metadata = api.get("/v2/models/occupation").json()
    body = columns_request(customers[:2], metadata) | {"outputs": [{"name": "occupation"}]}
    answer = api.post("/v2/models/occupation/infer", json=body).json()
    assert [tensor["name"] for tensor in answer["outputs"]] == ["occupation"]
    body["outputs"] = [{"name": "nonsense"}]
    refused = api.post("/v2/models/occupation/infer", json=body)
    assert refused.status_code == 400
    assert "unknown output 'nonsense'" in refused.json()["error"]


@pytest.mark.parametrize(
    ("body", "names"),
    [
        (
            text_request(["x"])
            | {"inputs": [{"name": "texts", "shape": [1], "datatype": "BYTES", "data": ["x"]}]},
            "'text'",
        ),
        (
            {"inputs": [{"name": "text", "shape": [2], "datatype": "BYTES", "data": ["x"]}]},
            "needs 2 elements",
        ),
        ({"inputs": [{"name": "text", "shape": [1], "datatype": "INT64", "data": [1]}]}, "BYTES"),
        (
            {
                "inputs": [
                    {"name": "text", "shape": [1, 2], "datatype": "BYTES", "data": ["a", "b"]}
                ]
            },
            "[n, 1]",
        ),
        (
            {"inputs": [{"name": "text", "shape": [1], "datatype": "BYTES", "data": ["  "]}]},
            "row 0: must not be empty",
        ),
        (
            {"inputs": [{"name": "text", "shape": [1], "datatype": "BYTES", "data": "x"}]},
            "JSON array",
        ),
        ({"inputs": []}, "inputs"),
        ({"inputs": [{"name": "text", "datatype": "BYTES", "data": ["x"]}]}, "inputs[0].shape"),
        (
            text_request(["x"]) | {"parameters": {"binary_data_output": True}},
            "binary tensor extension",
        ),
        (
            text_request(["x"])
            | {"outputs": [{"name": "category", "parameters": {"binary_data": True}}]},
            "binary tensor extension",
        ),
    ],
)
def test_an_invalid_text_request_is_a_400_naming_the_input(api, body, names):
    reply = api.post("/v2/models/demand-classifier/infer", json=body)
    assert reply.status_code == 400, reply.text
    assert reply.headers["content-type"] == "application/json"
    assert list(reply.json()) == ["error"]
    assert names in reply.json()["error"]


def test_an_invalid_customer_request_is_a_400_naming_the_input(api, customers):
    metadata = api.get("/v2/models/churn").json()
    body = columns_request(customers[:2], metadata)
    age = next(tensor for tensor in body["inputs"] if tensor["name"] == "age")
    age["data"] = [30, "old"]
    age["datatype"] = "BYTES"
    reply = api.post("/v2/models/churn/infer", json=body)
    assert reply.status_code == 400
    assert reply.json()["error"] == "input 'age', row 1: must be a number"

    body = columns_request(customers[:2], metadata)
    body["inputs"] = [t for t in body["inputs"] if t["name"] != "region"]
    missing = api.post("/v2/models/churn/infer", json=body).json()["error"]
    assert "missing: region" in missing

    body = columns_request(customers[:2], metadata)
    body["inputs"][0]["name"] = "手机号"
    unknown = api.post("/v2/models/churn/infer", json=body).json()["error"]
    assert "input '手机号' is not a feature column" in unknown

    single = {"inputs": [{"name": "x", "datatype": "FP64", "shape": [1, 3], "data": [1, 2, 3]}]}
    wrong = api.post("/v2/models/churn/infer", json=single).json()["error"]
    assert f"shape [n, {len(metadata['inputs'])}]" in wrong and 'content_type "pd"' in wrong


def test_batch_limits_hold_on_v2(api):
    texts = ["宽带断网"] * 65  # INSIGHT_MAX_TEXTS_PER_REQUEST 64
    reply = api.post("/v2/models/demand-classifier/infer", json=text_request(texts))
    assert reply.status_code == 400
    assert "65 rows; at most 64 texts per request" in reply.json()["error"]


def test_unknown_models_versions_and_paths_are_protocol_errors(api):
    unknown = api.post("/v2/models/nonsense/infer", json=text_request(["x"]))
    assert unknown.status_code == 404 and "no model named 'nonsense'" in unknown.json()["error"]
    version = api.get("/v2/models/churn/versions/999")
    assert version.status_code == 404
    assert "churn has no loaded version '999'; loaded: " in version.json()["error"]
    assert api.get("/v2/nothing").json() == {"error": "Not Found"}
    not_json = api.post(
        "/v2/models/churn/infer", content=b"{", headers={"Content-Type": "application/json"}
    )
    assert not_json.status_code == 400 and "not valid UTF-8 JSON" in not_json.json()["error"]


@pytest.mark.parametrize(
    ("value", "answer"),
    [
        (10**40, 200),  # a number JSON allows, far past int64
        ("1e999", 400),  # infinite: refused as /v1 refuses it
        ("", 200),  # a blank
        ("五十五", 400),
        (True, 400),
    ],
)
def test_odd_feature_values_are_answered_or_refused_never_a_500(api, customers, value, answer):
    metadata = api.get("/v2/models/churn").json()
    body = columns_request(customers[:1], metadata)
    age = next(tensor for tensor in body["inputs"] if tensor["name"] == "age")
    age |= {"datatype": "BYTES", "data": [value]}
    reply = api.post("/v2/models/churn/infer", json=body)
    assert reply.status_code == answer, reply.text


def test_deeply_nested_or_oversized_shapes_are_refused(api):
    nested = ["宽带断网"]
    for _ in range(150):
        nested = [nested]
    for body in (
        text_request([])
        | {"inputs": [{"name": "text", "shape": [1], "datatype": "BYTES", "data": nested}]},
        text_request([])
        | {"inputs": [{"name": "text", "shape": [2**70], "datatype": "BYTES", "data": ["x"]}]},
        text_request([])
        | {"inputs": [{"name": "text", "shape": [], "datatype": "BYTES", "data": ["x"]}]},
        text_request([])
        | {"inputs": [{"name": "text", "shape": [1], "datatype": "BYTES", "data": [{"a": 1}]}]},
    ):
        reply = api.post("/v2/models/demand-classifier/infer", json=body)
        assert reply.status_code == 400, reply.text
        assert list(reply.json()) == ["error"]
