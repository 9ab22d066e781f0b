"""``insight monitor drift`` on traffic captured through the real service: traffic like the
training data flags nothing; columns shifted here, and texts of unseen words, are flagged."""

import json
import math
import time
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
from click.testing import CliRunner

from app.capture.masking import mask_text
from app.cli import main
from app.commands.drift import DRIFT_EXIT_STATUS
from app.db.migrations import upgrade
from tests.capture.test_capture_api import _wait_until_written, capturing_app
from tests.conftest import CUSTOMER_MODEL_NAMES, TEXT_MODELS
from tests.open_inference import pd_request
from training.customers.schema import FEATURE_COLUMNS
from training.customers.world import generate_customers
from training.text.corpus import generate_demands

SHIFTED = {"age", "plan_monthly_fee", "region"}
NAME, PHONE = "张伟", "13812345678"
# Characters no demand text is written with: every term holding one is outside the vocabulary.
UNSEEN = "龘靐齉爩鱻麤龖厵灪爨癵驫"


def _records(customers: pd.DataFrame) -> list[dict]:
    return [
        {
            "customer_id": row["customer_id"],
            "features": {
                name: None if isinstance(v, float) and math.isnan(v) else _plain(v)
                for name, v in row[list(FEATURE_COLUMNS)].items()
            },
        }
        for _, row in customers.iterrows()
    ]


def _plain(value):
    return value.item() if hasattr(value, "item") else value


def _shifted(customers: pd.DataFrame) -> pd.DataFrame:
    """Older customers on dearer plans, all in one region."""
    return customers.assign(
        age=customers["age"] + 25,
        plan_monthly_fee=customers["plan_monthly_fee"] * 2.5,
        region="华南",
    )


def _send(client, customers: pd.DataFrame, texts: list[str]) -> None:
    records = _records(customers)
    for start in range(0, len(records), 100):
        answer = client.post(
            "/v1/customers/score", json={"customers": records[start : start + 100]}
        )
        assert answer.status_code == 200, answer.text
    for start in range(0, len(texts), 64):
        answer = client.post("/v1/demands/classify", json={"texts": texts[start : start + 64]})
        assert answer.status_code == 200, answer.text


@pytest.fixture(scope="module")
def traffic(full_store, tmp_path_factory):
    """An app database holding, in two windows, traffic like the training data, then traffic
    with three columns shifted and texts of unseen words; and the sent ids and texts."""
    url = f"sqlite:///{tmp_path_factory.mktemp('drift-db') / 'insight.db'}"
    upgrade(url)
    like_training = generate_customers(1500, seed=11)
    texts = generate_demands(900, seed=13)["text"].tolist()
    texts[0] = f"我叫{NAME}，手机{PHONE}，宽带断网三天了"
    unseen = [f"{UNSEEN[i % 12]}{UNSEEN[(i * 5) % 12]}{text}" for i, text in enumerate(texts)]
    served = TEXT_MODELS + list(CUSTOMER_MODEL_NAMES)
    with capturing_app(full_store, url, served_models=served) as client:
        start = datetime.now(UTC)
        _send(client, like_training, texts)
        _wait_until_written(client)
        time.sleep(0.01)
        middle = datetime.now(UTC)
        _send(client, _shifted(generate_customers(1500, seed=12)), unseen)
        _wait_until_written(client)
        end = datetime.now(UTC) + timedelta(seconds=1)
    sent = {"ids": like_training["customer_id"].tolist(), "texts": texts + unseen}
    return {"url": url, "windows": ((start, middle), (middle, end)), "sent": sent}


@pytest.fixture
def insight(traffic, full_store, monkeypatch):
    monkeypatch.setenv("INSIGHT_DATABASE_URL", traffic["url"])
    monkeypatch.setenv("INSIGHT_MLFLOW_TRACKING_URI", full_store.tracking_uri)

    def run(*args):
        return CliRunner().invoke(main, ["monitor", "drift", *map(str, args)])

    return run


def _window(traffic, which: int) -> list[str]:
    since, until = traffic["windows"][which]
    return ["--since", since.isoformat(), "--until", until.isoformat()]


def _shifts(report: dict, model: str, group: str) -> dict[str, dict]:
    (version,) = [v for v in report["versions"] if v["model"] == model]
    return {s["name"]: s for s in version["shifts"] if s["group"] == group}


def test_traffic_like_the_training_data_is_stable(insight, traffic, tmp_path):
    result = insight(*_window(traffic, 0), "--out", tmp_path)
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "drift.json").read_text(encoding="utf-8"))
    assert {v["model"] for v in report["versions"]} == set(TEXT_MODELS + list(CUSTOMER_MODEL_NAMES))
    everything = [s for v in report["versions"] for s in v["shifts"]]
    assert max(s["psi"] for s in everything) < 0.1, sorted(everything, key=lambda s: -s["psi"])[:3]
    assert len(_shifts(report, "churn", "feature")) == len(FEATURE_COLUMNS)
    assert {"length", "oov_share"} == set(_shifts(report, "demand-classifier", "text"))
    assert "stable" in result.output


def test_shifted_columns_and_unseen_words_are_flagged_and_exit_non_zero(insight, traffic, tmp_path):
    result = insight(*_window(traffic, 1), "--out", tmp_path)
    assert result.exit_code == DRIFT_EXIT_STATUS, result.output
    report = json.loads((tmp_path / "drift.json").read_text(encoding="utf-8"))
    for model in CUSTOMER_MODEL_NAMES:
        features = _shifts(report, model, "feature")
        assert {n for n, s in features.items() if s["psi"] > 0.25} == SHIFTED, model
        assert all(s["psi"] < 0.1 for n, s in features.items() if n not in SHIFTED), model
        assert features["region"]["jensen_shannon"] > 0.3
    demand = [v for v in report["versions"] if v["model"] == "demand-classifier"][0]
    assert demand["oov_rate"]["current"] > 1.3 * demand["oov_rate"]["reference"]
    assert _shifts(report, "demand-classifier", "text")["oov_share"]["flag"] == "shift"
    for name in SHIFTED:
        assert f"feature {name}" in result.output


def test_max_psi_decides_the_exit_status(insight, traffic, tmp_path):
    assert insight(*_window(traffic, 1), "--max-psi", 1000, "--out", tmp_path).exit_code == 0


def test_the_report_holds_shares_not_customers_or_texts(insight, traffic, tmp_path):
    insight(*_window(traffic, 0), "--out", tmp_path)
    insight("--since", traffic["windows"][0][0].isoformat(), "--out", tmp_path / "all")
    # a picture for each statistic not stable: none in the stable window, some in both
    for folder, pictures in ((tmp_path, False), (tmp_path / "all", True)):
        written = "".join(
            (folder / name).read_text(encoding="utf-8") for name in ("drift.json", "drift.html")
        )
        assert ("<img" in written) is pictures
        for leak in (NAME, PHONE, *traffic["sent"]["ids"][:200]):
            assert leak not in written
        assert not [text for text in traffic["sent"]["texts"] if text in written]


def test_an_empty_window_says_so(insight, tmp_path):
    later = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    result = insight("--since", later, "--out", tmp_path)
    assert result.exit_code == 1
    assert "no classify or score request" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "drift.json").exists()


def test_a_version_without_a_profile_says_so(insight, traffic, full_store, tmp_path, monkeypatch):
    """A store where churn version 1 was registered by a run without a profile (trained before
    profiles were logged)."""
    import mlflow

    from model_registry.store import MlflowStore

    client = full_store.activate()
    source = client.get_model_version_download_uri("churn", "1")
    older = MlflowStore.embedded(tmp_path / "older")
    older_client = older.activate()
    with mlflow.start_run(experiment_id=older.experiment_id("customer-models")) as run:
        pass
    older_client.create_registered_model("churn")
    older_client.create_model_version("churn", source, run_id=run.info.run_id)
    monkeypatch.setenv("INSIGHT_MLFLOW_TRACKING_URI", older.tracking_uri)
    result = insight(*_window(traffic, 0), "--model", "churn", "--out", tmp_path / "report")
    assert result.exit_code == 1
    assert "churn version 1 has no reference profile" in result.output
    assert "retrain it" in result.output
    assert "Traceback" not in result.output


def test_open_inference_traffic_is_compared_too(full_store, tmp_path):
    """/v2 infer requests count as /v1's do: texts (BYTES) and feature columns (pd form);
    a request holding a single [rows, columns] tensor (no column names) is left out."""
    from app.db.session import create_engine_for, create_session_factory
    from app.drift.traffic import production_traffic, traffic_filter

    url = f"sqlite:///{tmp_path / 'insight.db'}"
    upgrade(url)
    texts = generate_demands(40, seed=21)["text"].tolist()
    records = [r["features"] for r in _records(generate_customers(30, seed=22))]
    served = TEXT_MODELS + list(CUSTOMER_MODEL_NAMES)
    with capturing_app(full_store, url, served_models=served) as client:
        since = datetime.now(UTC)
        texts_body = {
            "inputs": [
                {
                    "name": "text",
                    "shape": [40, 1],
                    "datatype": "BYTES",
                    "data": [[t] for t in texts],
                }
            ]
        }
        answer = client.post("/v2/models/demand-classifier/infer", json=texts_body)
        assert answer.status_code == 200, answer.text
        answer = client.post("/v2/models/churn/infer", json=pd_request(records))
        assert answer.status_code == 200, answer.text
        names = [tensor["name"] for tensor in client.get("/v2/models/churn").json()["inputs"]]
        row = [str(records[0][name]) for name in names]
        table = {
            "inputs": [{"name": "x", "shape": [1, len(row)], "datatype": "BYTES", "data": row}]
        }
        assert client.post("/v2/models/churn/infer", json=table).status_code == 200
        _wait_until_written(client)
    engine = create_engine_for(url)
    try:
        traffic = production_traffic(create_session_factory(engine), traffic_filter(since, None))
    finally:
        engine.dispose()
    (demand,) = [t for (model, _), t in traffic.items() if model == "demand-classifier"]
    (churn,) = [t for (model, _), t in traffic.items() if model == "churn"]
    assert demand.items == 40 and demand.texts == [mask_text(text) for text in texts]
    assert set(demand.answers) == {"category", "confidence", "needs_review"}
    assert churn.items == 30 and churn.records[0]["age"] == records[0]["age"]
    assert len(churn.answers["churn_probability"]) == 30
