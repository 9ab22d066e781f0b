"""Outside clients of the Open Inference Protocol against `insight serve`: tritonclient (health,
metadata, inference of the demand classifier with Chinese text and of churn with a customer's
features) and a raw request in MLServer's pd form; the answers equal /v1's. The same capture
(texts masked) and per-model metrics as /v1."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import numpy as np
import pytest
import tritonclient.http as triton
from sqlalchemy import create_engine, select
from tritonclient.utils import InferenceServerException

from app.db.models import CapturedRequest
from tests.conftest import CUSTOMER_MODEL_NAMES, TEXT_MODELS, make_key
from tests.open_inference import text_request
from tests.serving import LiveService, running_service, service_env
from training.customers.schema import LABEL_COLUMNS

TEXTS = ["宽带从昨晚就断网了，报修也没人来，电话13812345678", "这个月的流量怎么扣得这么快"]
PHONE = "13812345678"
NUMPY_TYPES = {"INT64": np.int64, "INT32": np.int32, "FP64": np.float64, "FP32": np.float32}


@pytest.fixture(scope="module")
def service(full_store, tmp_path_factory) -> Iterator[tuple[LiveService, dict, str]]:
    """One worker on an app database of its own (to read the capture), with a key holding the
    scopes of inference and metadata, made before it started."""
    from app.db.migrations import upgrade

    workdir = tmp_path_factory.mktemp("open-inference")
    url = f"sqlite:///{workdir / 'insight.db'}"
    upgrade(url)
    secret = make_key(url, "platform", ["classify", "score", "models:read"])
    env = service_env(
        full_store,
        TEXT_MODELS + list(CUSTOMER_MODEL_NAMES),
        database_url=url,
        capture_flush_interval_seconds=0.2,
    )
    with running_service(env, workdir / "serve.log") as live:
        yield live, {"Authorization": f"Bearer {secret}"}, url


@pytest.fixture(scope="module")
def client(service) -> Iterator[triton.InferenceServerClient]:
    live, _, _ = service
    found = triton.InferenceServerClient(url=live.base_url.removeprefix("http://"))
    yield found
    found.close()


@pytest.fixture(scope="module")
def customer(customer_world) -> dict:
    record = customer_world.drop(columns=[c for c in LABEL_COLUMNS if c in customer_world])
    return json.loads(record.drop(columns=["customer_id"]).iloc[[7]].to_json(orient="records"))[0]


def test_health_and_metadata_through_tritonclient(service, client):
    _, headers, _ = service
    assert client.is_server_live()
    assert client.is_server_ready()
    assert client.is_model_ready("demand-classifier")
    assert client.get_server_metadata()["name"] == "customer-insight"
    metadata = client.get_model_metadata("churn", headers=dict(headers))
    assert {"name": "age", "datatype": "INT64", "shape": [-1]} in metadata["inputs"]
    with pytest.raises(InferenceServerException, match="lacks the scope 'models:read'|API key"):
        client.get_model_metadata("churn")  # no key


def test_demand_classifier_through_tritonclient_answers_as_v1(service, client):
    live, headers, _ = service
    text = triton.InferInput("text", [len(TEXTS)], "BYTES")
    text.set_data_from_numpy(np.array(TEXTS, dtype=object), binary_data=False)
    names = ["category", "confidence", "probabilities", "needs_review"]
    result = client.infer(
        "demand-classifier",
        [text],
        outputs=[triton.InferRequestedOutput(name, binary_data=False) for name in names],
        request_id="triton-1",
        headers=dict(headers),
    )
    with live.client(headers) as http:
        v1 = http.post("/v1/demands/classify", json={"texts": TEXTS}).json()["results"]
    assert result.get_response()["id"] == "triton-1"
    assert result.as_numpy("category").tolist() == [r["category"] for r in v1]
    assert result.as_numpy("confidence").tolist() == [r["confidence"] for r in v1]
    probabilities = result.as_numpy("probabilities")
    classes = json.loads(result.get_output("probabilities")["parameters"]["classes"])
    assert probabilities.shape == (len(TEXTS), len(classes))
    for row, answer in zip(probabilities, v1):
        assert classes[int(row.argmax())] == answer["category"]


def test_churn_through_tritonclient_answers_as_v1(service, client, customer):
    live, headers, _ = service
    metadata = client.get_model_metadata("churn", headers=dict(headers))
    inputs = []
    for tensor in metadata["inputs"]:
        column = triton.InferInput(tensor["name"], [1], tensor["datatype"])
        value = customer[tensor["name"]]
        dtype = NUMPY_TYPES.get(tensor["datatype"], object)
        column.set_data_from_numpy(np.array([value], dtype=dtype), binary_data=False)
        inputs.append(column)
    outputs = [
        triton.InferRequestedOutput(t["name"], binary_data=False) for t in metadata["outputs"]
    ]
    result = client.infer(
        "churn", inputs, outputs=outputs, headers=dict(headers), parameters={"content_type": "pd"}
    )
    with live.client(headers) as http:
        body = {"customers": [{"features": customer}], "models": ["churn"]}
        (v1,) = http.post("/v1/customers/score", json=body).json()["results"]
    churn = v1["scores"]["churn"]
    assert result.as_numpy("churn_probability").tolist() == [churn["churn_probability"]]
    assert result.as_numpy("churn_risk_level").tolist() == [churn["churn_risk_level"]]


def test_the_binary_extension_is_refused_clearly(service, client):
    _, headers, _ = service
    text = triton.InferInput("text", [1], "BYTES")
    text.set_data_from_numpy(np.array(TEXTS[:1], dtype=object))  # binary_data=True
    with pytest.raises(InferenceServerException, match="binary tensor extension") as refused:
        # a copy: tritonclient adds its Inference-Header-Content-Length to the dict it is given
        client.infer("demand-classifier", [text], headers=dict(headers))
    assert refused.value.status() == "400"


def test_a_raw_pd_request_as_mlserver_clients_send_it(service, customer):
    """MLServer's pd convention, by hand: a content type on the request, a column per input."""
    live, headers, _ = service
    columns = [
        {
            "name": name,
            "shape": [2],
            "datatype": "BYTES" if isinstance(value, str) else "FP64",
            "parameters": {"content_type": "str" if isinstance(value, str) else "np"},
            "data": [value, value],
        }
        for name, value in customer.items()
    ]
    body = {"parameters": {"content_type": "pd"}, "inputs": columns}
    with live.client(headers) as http:
        answer = http.post("/v2/models/occupation/infer", json=body)
        score = {"customers": [{"features": customer}], "models": ["occupation"]}
        (v1,) = http.post("/v1/customers/score", json=score).json()["results"]
    assert answer.status_code == 200, answer.text
    outputs = {tensor["name"]: tensor["data"] for tensor in answer.json()["outputs"]}
    assert outputs["occupation"] == [v1["scores"]["occupation"]["occupation"]] * 2
    assert (
        outputs["occupation_probability"]
        == [v1["scores"]["occupation"]["occupation_probability"]] * 2
    )


def test_captured_and_counted_as_v1(service):
    live, headers, url = service
    body = text_request(TEXTS[:1])
    with live.client(headers) as http:
        reply = http.post(
            "/v2/models/spam-filter/infer", json=body, headers={"X-Request-ID": "a" * 32}
        )
        assert reply.status_code == 200
        version = reply.json()["model_version"]
        row = _captured(url, "a" * 32)
        assert row.endpoint == "/v2/models/{model_name}/infer"
        assert row.path_params == {"model_name": "spam-filter"}
        assert row.model_versions == [
            {"name": "spam-filter", "version": version, "alias": "production"}
        ]
        stored = json.dumps(row.body, ensure_ascii=False)
        assert PHONE not in stored and "〔手机号〕" in stored
        metrics = http.get("/metrics").text
    assert (
        'insight_model_requests_total{alias="production",endpoint="/v2/models/{model_name}/infer",'
        f'model="spam-filter",status="200",version="{version}"}}'
    ) in metrics
    assert PHONE not in live.output()


def _captured(url: str, request_id: str, timeout_s: float = 20) -> CapturedRequest:
    engine = create_engine(url)
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            with engine.connect() as connection:
                row = connection.execute(
                    select(CapturedRequest).where(CapturedRequest.request_id == request_id)
                ).first()
            if row is not None:
                return row
            assert time.monotonic() < deadline, "the capture was not written in time"
            time.sleep(0.1)
    finally:
        engine.dispose()
