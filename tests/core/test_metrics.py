"""The deployment's metrics: per-model request counts and latencies labelled by route template,
in one process (TestClient) and summed over two uvicorn workers spoken to over HTTP."""

import time

import httpx
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from tests.api.test_customers import _features
from tests.conftest import ADMIN_HEADERS, TEXT_MODELS
from tests.serving import LiveService, running_service, service_env

CLASSIFY = "/v1/demands/classify"
PROFILE = "/v1/customers/{customer_id}/profile"
REQUESTS = "insight_model_requests_total"
DURATION_COUNT = "insight_request_duration_seconds_count"
Samples = dict[tuple[str, frozenset], float]


def _samples(text: str) -> Samples:
    """Every sample of a Prometheus text page, by name and labels."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def _scrape(client: TestClient | httpx.Client) -> Samples:
    response = client.get("/metrics")
    assert response.status_code == 200
    return _samples(response.text)


def _model_counts(samples: Samples) -> Samples:
    """The per-model request metrics alone (the capture writer changes the others meanwhile)."""
    families = ("insight_model_requests_", "insight_request_duration_seconds_")
    return {key: value for key, value in samples.items() if key[0].startswith(families)}


def test_classify_counts_each_model_version_under_the_route_template(api):
    before = _scrape(api)
    for _ in range(5):
        response = api.post(CLASSIFY, json={"text": "宽带断网了"})
        assert response.status_code == 200
    after = _scrape(api)

    refs = response.json()["models"]
    assert {ref["name"] for ref in refs} == {"demand-classifier", "spam-filter"}
    for ref in refs:
        model = {"endpoint": CLASSIFY, "model": ref["name"], "version": ref["version"]}
        counted = dict(model, alias=ref["alias"], status="200")
        assert _value(after, REQUESTS, **counted) - _value(before, REQUESTS, **counted) == 5
        assert _value(after, DURATION_COUNT, **model) - _value(before, DURATION_COUNT, **model) == 5


def test_a_request_refused_before_any_model_answers_counts_without_a_model(api):
    refused = {"endpoint": CLASSIFY, "model": "", "version": "", "alias": "", "status": "422"}
    before = _value(_scrape(api), REQUESTS, **refused)
    assert api.post(CLASSIFY, json={"text": ""}).status_code == 422
    assert _value(_scrape(api), REQUESTS, **refused) - before == 1


def test_scrapes_and_probes_leave_the_metrics_unchanged(api):
    assert api.post(CLASSIFY, json={"text": "查一下上个月账单"}).status_code == 200
    deadline = time.monotonic() + 20
    while _value(first := _scrape(api), "insight_capture_pending") > 0:  # then nothing moves
        assert time.monotonic() < deadline, "the captured request was never written"
        time.sleep(0.05)
    assert api.get("/healthz").status_code == 200
    assert api.get("/readyz").status_code == 200
    assert _scrape(api) == first


def test_a_profile_is_labelled_by_its_template_and_never_by_the_customer_id(
    full_api, customer_world
):
    customer_id = "C-metrics-5f81e2"
    put = full_api.put(
        f"/v1/customers/{customer_id}", json={"features": _features(customer_world, 0)}
    )
    assert put.status_code == 200
    before = _scrape(full_api)
    profile = full_api.get(f"/v1/customers/{customer_id}/profile")
    assert profile.status_code == 200
    assert full_api.get("/v1/customers/C-metrics-nobody/profile").status_code == 404
    text = full_api.get("/metrics").text
    after = _samples(text)

    for ref in profile.json()["models"]:
        labels = {"endpoint": PROFILE, "model": ref["name"], "version": ref["version"]}
        counted = dict(labels, alias=ref["alias"], status="200")
        assert _value(after, REQUESTS, **counted) - _value(before, REQUESTS, **counted) == 1
    unknown = {"endpoint": PROFILE, "model": "", "version": "", "alias": "", "status": "404"}
    assert _value(after, REQUESTS, **unknown) - _value(before, REQUESTS, **unknown) == 1
    assert customer_id not in text and "C-metrics-nobody" not in text


def test_scoring_and_the_report_count_under_their_templates(full_api, customer_world):
    customer = {"customer_id": "C-metrics-1", "features": _features(customer_world, 1)}
    before = _scrape(full_api)
    score = full_api.post("/v1/customers/score", json={"customers": [customer]})
    report = full_api.get("/v1/reports/channel-preference")
    after = _scrape(full_api)

    assert score.status_code == 200 and report.status_code == 200
    answered = [("/v1/customers/score", ref) for ref in score.json()["models"]]
    answered.append(("/v1/reports/channel-preference", report.json()["model"]))
    for endpoint, ref in answered:
        counted = {"endpoint": endpoint, "model": ref["name"], "version": ref["version"]}
        counted |= {"alias": ref["alias"], "status": "200"}
        assert _value(after, REQUESTS, **counted) - _value(before, REQUESTS, **counted) == 1


# Through uvicorn with two workers: every worker answers /metrics for both.

MIN_REQUESTS, MAX_REQUESTS = 20, 300


def test_two_workers_answer_one_deployment_wide_count(trained_store, tmp_path):
    temp = tmp_path / "tmp"  # where the server makes its metrics directory, to look for it
    temp.mkdir()
    env = service_env(trained_store, TEXT_MODELS, workers=2) | {"TMPDIR": str(temp)}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    with running_service(env, tmp_path / "server.log") as service:
        assert len(list(temp.glob("insight-metrics-*"))) == 1
        answered, refs = _classify_until_both_workers_answered(service)
        scrapes = []
        for _ in range(6):
            with service.client() as client:  # no key: /metrics is open on loopback
                scrapes.append(_scrape(client))

    counts = [_model_counts(scrape) for scrape in scrapes]
    assert all(count == counts[0] for count in counts[1:])
    for ref in refs:
        model = {"endpoint": CLASSIFY, "model": ref["name"], "version": ref["version"]}
        counted = dict(model, alias=ref["alias"], status="200")
        assert _value(scrapes[0], REQUESTS, **counted) == answered
        assert _value(scrapes[0], DURATION_COUNT, **model) == answered
    assert list(temp.glob("insight-metrics-*")) == []  # removed when the server stopped


def _classify_until_both_workers_answered(service: LiveService) -> tuple[int, list[dict]]:
    """Classify, each time on a fresh connection, until both workers have answered some; how
    many were answered, and the model refs of the answers."""
    answered, refs, workers = 0, [], set()
    for _ in range(MAX_REQUESTS):
        if answered >= MIN_REQUESTS and len(workers) == 2:
            return answered, refs
        with service.client(ADMIN_HEADERS) as client:
            worker = client.get("/healthz").json()["worker"]  # the one holding this connection
            response = client.post(CLASSIFY, json={"text": "宽带断网了"})
        if response.status_code == 503:  # that worker is still loading its models
            time.sleep(0.1)
            continue
        assert response.status_code == 200, response.text
        answered, refs = answered + 1, response.json()["models"]
        workers.add(worker)
    raise AssertionError(f"{MAX_REQUESTS} requests: {answered} answered, by workers {workers}")
