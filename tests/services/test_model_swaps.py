"""Swaps under load between versions that answer differently.

The reload tests swap "twin" versions, which answer alike: a request that scored with one
version and named the other would pass them. Here the two versions of a model give different
answers for every input sent, the answers each version gives are computed in this process
beforehand, and every answer received during the swap must equal, field by field, what the
version it names gives: so an answer that mixed versions, or scored with a joint forest scorer
left over from the old version, shows.

The versions are cheap: the second demand classifier is fitted on a slice of the session's
corpus (no evaluation, no figures), the second churn model on a slice of its customer world
with fewer trees; the other versions are the session stores' production models logged again.
"""

from __future__ import annotations

import math
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import mlflow
import numpy as np
import orjson
import pandas as pd
import pytest
import uvicorn
from fastapi import FastAPI

from app.main import create_app
from app.services.customer_scoring import score_customers
from app.services.demand_classification import classify_demands
from app.services.model_snapshot import ServingModels
from app.services.served_models import ServedCustomerModel, ServedModel, load_served_model
from model_registry.registry import PRODUCTION, resolve_version
from model_registry.store import MlflowStore
from tests.conftest import ADMIN_HEADERS, CUSTOMER_MODEL_NAMES, settings_for
from tests.text_versions import DEMAND, SPAM, log_again
from training.common.registration import log_and_register
from training.customers.model import CustomerModel, build_tabular_pipeline, typical_values
from training.customers.schema import LABEL_COLUMNS
from training.customers.tasks import ANSWERS
from training.text.data import labelled_texts
from training.text.model import TextClassifierModel, build_text_pipeline

CLASSIFY, SCORE = "/v1/demands/classify", "/v1/customers/score"
REFRESH = "/v1/admin/models/refresh"
CHURN = "churn"
TOLERANCE = 1e-9  # as the forest scorer's own check against sklearn
CLIENTS = 4
EXPERIMENT = "swap-tests"


@dataclass(frozen=True)
class Pair:
    """Two versions of one model in a store of their own; a test puts ``old`` in production
    first (``reset``) and moves it to ``new`` under load."""

    store: MlflowStore
    name: str
    old: str
    new: str

    def reset(self) -> None:
        self.store.activate().set_registered_model_alias(self.name, PRODUCTION, self.old)


@dataclass(frozen=True)
class Answer:
    started: float
    finished: float
    sent: int  # which of the request bodies
    status: int
    body: Any


# ---------------------------------------------------------------------------------- versions


def _log(store: MlflowStore, model, name: str, example: pd.DataFrame) -> str:
    store.activate()
    with mlflow.start_run(experiment_id=store.experiment_id(EXPERIMENT)):
        return log_and_register(model, model_name=name, example=example, card="swap tests")


@pytest.fixture(scope="module")
def demand_pair(tmp_path_factory, trained_store: MlflowStore, demand_corpus) -> Pair:
    """demand-classifier: the session's production version, and one fitted on the first 600
    texts of the corpus with another SVM C (about a second): it answers every text otherwise."""
    store = MlflowStore.embedded(tmp_path_factory.mktemp("swap-text-mlflow"))
    old = log_again(trained_store, store, DEMAND)
    spam = log_again(trained_store, store, SPAM)
    data = labelled_texts(
        demand_corpus.head(600),
        text_column="text",
        label_column="category",
        binary=False,
        source="swap tests: a slice",
    )
    pipeline = build_text_pipeline(svm_c=4.0).fit(data.texts, data.labels)
    model = TextClassifierModel(pipeline, text_column="text")
    new = _log(store, model, DEMAND, pd.DataFrame({"text": data.texts[:2]}))
    store.activate().set_registered_model_alias(SPAM, PRODUCTION, spam)
    return Pair(store, DEMAND, old, new)


@pytest.fixture(scope="module")
def churn_pair(tmp_path_factory, full_store: MlflowStore, customer_world) -> Pair:
    """The four customer models of the session, in production; and a churn version fitted on
    another slice of the customer world with another seed and fewer trees, on the same
    feature spec (so the four still share one joint scorer)."""
    store = MlflowStore.embedded(tmp_path_factory.mktemp("swap-customer-mlflow"))
    versions = {name: log_again(full_store, store, name) for name in CUSTOMER_MODEL_NAMES}
    client = store.activate()
    for name, version in versions.items():
        client.set_registered_model_alias(name, PRODUCTION, version)
    pyfunc = mlflow.pyfunc.load_model(client.get_model_version_download_uri(CHURN, versions[CHURN]))
    base: CustomerModel = pyfunc.unwrap_python_model()
    (target,) = base.pipelines
    rows = customer_world.tail(1200)
    prepared = base.features.prepare(rows)
    pipeline = build_tabular_pipeline(base.features, seed=1).set_params(trees__max_iter=40)
    pipeline.fit(prepared, rows[target].to_numpy())
    model = CustomerModel(
        task=CHURN,
        features=base.features,
        pipelines={target: pipeline},
        answer=ANSWERS[CHURN],
        typical=typical_values(prepared, base.features),
    )
    new = _log(store, model, CHURN, pyfunc.input_example)
    return Pair(store, CHURN, versions[CHURN], new)


def _load(store: MlflowStore, name: str, version: str) -> ServedModel:
    """``version`` of ``name`` as the service loads it, here in the test's process."""
    client = store.activate()
    return load_served_model(client, resolve_version(client, name, version=version), PRODUCTION)


def _production(store: MlflowStore, name: str) -> str:
    return str(store.activate().get_model_version_by_alias(name, PRODUCTION).version)


def _json(value: Any) -> Any:
    """``value`` as it reads after a trip through the service's JSON encoder."""
    return orjson.loads(orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY))


# ----------------------------------------------------------------------------------- serving


@contextmanager
def served_over_http(app: FastAPI) -> Iterator[str]:
    """``app`` under a real uvicorn on a free port, in this process; yields its base URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while not _ready(base_url):
            assert time.monotonic() < deadline, "the service never became ready"
            assert thread.is_alive(), "the server stopped before it was ready"
            time.sleep(0.05)
        yield base_url
    finally:
        server.should_exit = True
        thread.join(60)
        assert not thread.is_alive(), "the server did not stop within 60 s"


def _ready(base_url: str) -> bool:
    try:
        return httpx.get(f"{base_url}/readyz").status_code == 200
    except httpx.TransportError:
        return False


def _keep_sending(
    base_url: str, path: str, bodies: list[dict], first: int, stop: threading.Event, answers
) -> None:
    """Send the bodies in turn, starting at ``first``, until ``stop``; record every answer."""
    with httpx.Client(base_url=base_url, headers=ADMIN_HEADERS, timeout=30) as client:
        sent = first
        while not stop.is_set():
            started = time.monotonic()
            try:
                response = client.post(path, json=bodies[sent])
                status, body = response.status_code, response.json()
            except (httpx.HTTPError, ValueError) as error:  # counted as a failed request
                status, body = -1, repr(error)
            answers.append(Answer(started, time.monotonic(), sent, status, body))
            sent = (sent + 1) % len(bodies)


@dataclass(frozen=True)
class Swap:
    answers: list[Answer]
    moved_at: float  # just before the alias moved in the registry
    swapped_at: float  # the admin refresh had answered
    refresh: httpx.Response


def _swap_under_load(base_url: str, pair: Pair, path: str, bodies: list[dict]) -> Swap:
    """Clients send ``bodies`` without pause while ``pair``'s production alias moves from
    ``old`` to ``new`` and the admin refresh is called; their answers, and when it happened."""
    stop, answers = threading.Event(), []
    clients = [
        threading.Thread(
            target=_keep_sending, args=(base_url, path, bodies, i, stop, answers), daemon=True
        )
        for i in range(CLIENTS)
    ]
    for client in clients:
        client.start()
    try:
        _wait_for_answers(answers, 10 * CLIENTS)
        moved_at = time.monotonic()
        pair.store.activate().set_registered_model_alias(pair.name, PRODUCTION, pair.new)
        refresh = httpx.post(f"{base_url}{REFRESH}", headers=ADMIN_HEADERS, timeout=60)
        swapped_at = time.monotonic()
        _wait_for_answers(answers, len(answers) + 10 * CLIENTS)
    finally:
        stop.set()
        for client in clients:
            client.join(30)
    assert not any(client.is_alive() for client in clients), "a client still sends after 30 s"
    return Swap(list(answers), moved_at, swapped_at, refresh)


def _wait_for_answers(answers: list[Answer], count: int, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while len(answers) < count:
        assert time.monotonic() < deadline, f"{len(answers)} answers in {timeout_s} s"
        time.sleep(0.02)


def _versions(answer: Answer, name: str) -> list[str]:
    return [model["version"] for model in answer.body["models"] if model["name"] == name]


def _assert_swapped(swap: Swap, pair: Pair) -> None:
    assert swap.refresh.status_code == 200, swap.refresh.text
    swapped = [
        (s["model"], s["alias"], s["previous_version"], s["version"])
        for s in swap.refresh.json()["swapped"]
    ]
    assert swapped == [(pair.name, PRODUCTION, pair.old, pair.new)]
    assert [(a.status, a.body) for a in swap.answers if a.status != 200] == []
    named = [_versions(answer, pair.name) for answer in swap.answers]
    assert all(len(versions) == 1 for versions in named)
    before = [a for a in swap.answers if a.finished < swap.moved_at]
    after = [a for a in swap.answers if a.started > swap.swapped_at]
    assert len(before) >= 10 and len(after) >= 10
    # Clients were answered while the new version loaded and the snapshot was replaced.
    assert any(swap.moved_at < a.started < swap.swapped_at for a in swap.answers)
    assert {_versions(a, pair.name)[0] for a in before} == {pair.old}
    assert {_versions(a, pair.name)[0] for a in after} == {pair.new}


# ----------------------------------------------------------------------------- demand texts

TEXTS = [
    "宽带断网了，一直连不上",
    "查一下上个月的账单，怎么多扣了二十块",
    "我的流量怎么用得这么快，5G套餐能换吗",
    "手机没有信号，打不出电话",
    "想办一张副卡给家里老人用",
    "你们的客服态度太差了，我要投诉",
    "国际漫游怎么开通",
    "积分能兑换话费吗",
]


def test_a_swap_to_a_version_that_answers_otherwise_mixes_no_answer(demand_pair):
    pair = demand_pair
    pair.reset()
    spam = _load(pair.store, SPAM, _production(pair.store, SPAM))
    bodies = [{"texts": TEXTS[i : i + 3]} for i in range(0, len(TEXTS), 3)]
    bodies += [{"text": text} for text in TEXTS[:2]]  # a batch of one is answered on the loop
    expected = {}
    for version in (pair.old, pair.new):
        serving = ServingModels(
            PRODUCTION, {DEMAND: _load(pair.store, DEMAND, version), SPAM: spam}, {}
        )
        expected[version] = [
            _json(classify_demands(body.get("texts") or [body["text"]], serving)["results"])
            for body in bodies
        ]
    # Every text is answered otherwise by the two versions: an answer that mixed them shows.
    old, new = ([r for body in expected[v] for r in body] for v in (pair.old, pair.new))
    assert all(a["top_categories"] != b["top_categories"] for a, b in zip(old, new, strict=True))

    settings = settings_for(pair.store, reload_interval_seconds=0)
    with served_over_http(create_app(settings)) as base_url:
        swap = _swap_under_load(base_url, pair, CLASSIFY, bodies)
        served = httpx.get(f"{base_url}/v1/models/{DEMAND}", headers=ADMIN_HEADERS).json()

    _assert_swapped(swap, pair)
    assert served["version"] == pair.new
    for answer in swap.answers:
        (version,) = _versions(answer, DEMAND)
        assert answer.body["results"] == expected[version][answer.sent], (version, answer.sent)


# --------------------------------------------------------------------------------- customers


def _record(customer_world: pd.DataFrame, row: int) -> dict[str, Any]:
    record = customer_world.drop(columns=["customer_id", *LABEL_COLUMNS]).iloc[row].to_dict()
    return {
        key: None
        if isinstance(value, float) and math.isnan(value)
        else (value.item() if hasattr(value, "item") else value)
        for key, value in record.items()
    }


def _sklearn_churn(model: ServedCustomerModel, records: list[dict]) -> np.ndarray:
    """The churn probabilities of ``model``'s fitted sklearn pipeline itself."""
    (pipeline,) = model.model.pipelines.values()
    frame = model.model.features.prepare(pd.DataFrame(records))
    return pipeline.predict_proba(frame)[:, 1]


def _assert_close(received: Any, expected: Any, where: tuple) -> None:
    """Equal, floats to ``TOLERANCE`` (the joint scorer's sums run in another order)."""
    if isinstance(expected, float):
        assert received == pytest.approx(expected, rel=0, abs=TOLERANCE), where
    elif isinstance(expected, dict):
        assert set(received) == set(expected), where
        for key, value in expected.items():
            _assert_close(received[key], value, (*where, key))
    elif isinstance(expected, list):
        assert len(received) == len(expected), where
        for i, (mine, theirs) in enumerate(zip(received, expected)):
            _assert_close(mine, theirs, (*where, i))
    else:
        assert received == expected, where


def test_a_churn_swap_under_load_answers_each_version_and_rebuilds_the_joint_scorer(
    churn_pair, customer_world
):
    pair = churn_pair
    pair.reset()
    others = [
        _load(pair.store, name, _production(pair.store, name))
        for name in CUSTOMER_MODEL_NAMES
        if name != CHURN
    ]
    churn = {version: _load(pair.store, CHURN, version) for version in (pair.old, pair.new)}
    # Customers the new version never saw in training (it saw the world's last 1,200).
    records = [_record(customer_world, row) for row in range(24)]
    batches = [range(i, i + 5) for i in range(0, 20, 5)] + [range(20, 21), range(21, 24)]
    bodies = [
        {"customers": [{"customer_id": f"C{row:08d}", "features": records[row]} for row in rows]}
        for rows in batches
    ]
    sklearn = {version: _sklearn_churn(model, records) for version, model in churn.items()}
    # The versions disagree on every customer, by far more than the tolerance.
    assert np.min(np.abs(sklearn[pair.old] - sklearn[pair.new])) > 1e3 * TOLERANCE
    expected = {}
    for version, model in churn.items():
        models = [model, *others]  # each model alone, no joint scorer
        expected[version] = [
            _json(score_customers([records[row] for row in rows], models)) for rows in batches
        ]
        answered = [scores[CHURN]["churn_probability"] for b in expected[version] for scores in b]
        np.testing.assert_allclose(answered, sklearn[version], rtol=0, atol=TOLERANCE)

    app = create_app(
        settings_for(
            pair.store, served_models=list(CUSTOMER_MODEL_NAMES), reload_interval_seconds=0
        )
    )
    with served_over_http(app) as base_url:
        joint_before = app.state.catalog.serving(PRODUCTION).joint
        swap = _swap_under_load(base_url, pair, SCORE, bodies)
        serving_after = app.state.catalog.serving(PRODUCTION)

    _assert_swapped(swap, pair)
    unchanged = {(model.name, model.version) for model in others}
    for answer in swap.answers:
        refs = {(m["name"], m["version"]) for m in answer.body["models"]}
        (version,) = _versions(answer, CHURN)
        assert refs == unchanged | {(CHURN, version)}
        results = answer.body["results"]
        assert [r["customer_id"] for r in results] == [
            c["customer_id"] for c in bodies[answer.sent]["customers"]
        ]
        _assert_close(
            [r["scores"] for r in results], expected[version][answer.sent], (version, answer.sent)
        )

    # One joint scorer held the old churn version's trees; a new one, the new version's, and
    # each answers as that version's sklearn pipeline.
    assert joint_before is not None and serving_after.joint is not None
    assert serving_after.joint is not joint_before
    assert serving_after.get(CHURN).version == pair.new
    assert len(serving_after.joint.targets) == len(joint_before.targets) == 16
    (target,) = churn[pair.new].model.pipelines
    for joint, version in ((joint_before, pair.old), (serving_after.joint, pair.new)):
        churn_probability = joint.probabilities(records)[target]
        np.testing.assert_allclose(churn_probability, sklearn[version], rtol=0, atol=TOLERANCE)
