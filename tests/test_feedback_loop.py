"""The feedback loop end to end, through the HTTP API of `insight serve` (bench/loop.py's steps,
small): traffic from drifted worlds, `insight monitor drift` flagging the shifted features and
none of the others, corrections by request id, retraining with them, promotion through the
gates, and a higher accuracy on held-out texts of the new wording."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from app.cli import main
from app.db.migrations import upgrade
from bench.keys import auth_headers
from bench.loop import run_loop
from model_registry.registry import promote
from model_registry.store import MlflowStore
from tests.conftest import make_key, promoted_text_models
from tests.serving import running_service, service_env
from training.customers.schema import DRIFTED_WORLDS
from training.customers.tasks import CHURN
from training.customers.trainer import customer_data, train_customer_model
from training.customers.world import generate_customers
from training.text.corpus import generate_demands

SERVED = ["demand-classifier", "spam-filter", "churn"]
STABLE_PSI, SHIFTED_PSI = 0.1, 0.25


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("loop-corpus") / "demands.csv"
    generate_demands(3000, seed=0).to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def store(tmp_path_factory, corpus) -> MlflowStore:
    """Its own registry (the loop promotes a new version): both text models on the base
    corpus, churn on the base world, all in production."""
    import pandas as pd

    frame = pd.read_csv(corpus, dtype=str, keep_default_na=False)
    store = promoted_text_models(tmp_path_factory.mktemp("loop-store"), frame, candidates="default")
    world = generate_customers(4000, seed=0)
    customers = customer_data(
        world, task=CHURN, targets=CHURN.targets, id_column="customer_id", source="base world"
    )
    outcome = train_customer_model(CHURN, customers, store=store, candidates="default")
    promote(store.activate(), CHURN.model_name, version=outcome.version)
    return store


def test_drift_is_flagged_and_corrections_teach_the_new_wording(
    store, corpus, tmp_path, monkeypatch
):
    database_url = f"sqlite:///{tmp_path / 'insight.db'}"
    upgrade(database_url)
    secret = make_key(database_url, "loop", ["admin"])
    for name, value in {
        "INSIGHT_DATABASE_URL": database_url,
        "INSIGHT_MLFLOW_TRACKING_URI": store.tracking_uri,
        "INSIGHT_MLFLOW_ARTIFACT_ROOT": store.artifact_root,
    }.items():
        monkeypatch.setenv(name, value)
    runner = CliRunner()

    def insight(args):
        result = runner.invoke(main, list(args))
        return result.exit_code, result.output

    env = service_env(store, SERVED, capture_flush_interval_seconds=0.2)
    with (
        running_service(env, tmp_path / "server.log") as service,
        service.client(auth_headers(secret)) as client,
    ):
        figures = run_loop(
            client,
            insight,
            corpus=corpus,
            report_dir=tmp_path / "drift",
            customers=1500,
            texts=800,
            corrections=300,
            held_out=200,
            customer_models=["churn"],
            candidates="default",
        )

    assert figures.drift_status != 0  # past --max-psi: cron or CI can act on it
    report = json.loads((tmp_path / "drift" / "drift.json").read_text())
    churn = _feature_psi(report, "churn")
    shifted = set(DRIFTED_WORLDS["price-war"])
    assert {name for name, value in churn.items() if value > SHIFTED_PSI} == shifted
    assert all(churn[name] < STABLE_PSI for name in set(churn) - shifted)
    wording = _shift(report, "demand-classifier", "text", "oov_share")
    assert wording["psi"] > SHIFTED_PSI  # the new wording is outside the vocabulary

    assert figures.corrections == 300
    assert figures.accuracy_before < 0.6
    assert figures.accuracy_after > figures.accuracy_before + 0.3


def _shifts(report: dict, model: str) -> list[dict]:
    (version,) = [v for v in report["versions"] if v["model"] == model]
    return version["shifts"]


def _feature_psi(report: dict, model: str) -> dict[str, float]:
    return {s["name"]: s["psi"] for s in _shifts(report, model) if s["group"] == "feature"}


def _shift(report: dict, model: str, group: str, name: str) -> dict:
    (shift,) = [s for s in _shifts(report, model) if (s["group"], s["name"]) == (group, name)]
    return shift
