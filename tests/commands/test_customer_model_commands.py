"""The customer models on the command line, as the README's table promises: ``insight predict``
writes each row's id and answer (the service's numbers), ``insight train`` trains on a user's
table and prints its figures (a bad target is a clear error), and files in GB18030 are read
by every command that reads a user's CSV."""

from __future__ import annotations

import math
import re
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from sqlalchemy import select

from app.cli import main
from app.db import Customer, create_engine_for
from model_registry.registry import PRODUCTION
from model_registry.store import MlflowStore
from training.customers.schema import LABEL_COLUMNS

SCORE = "/v1/customers/score"
RISK_LEVELS = {"低", "中", "高", "极高"}


@pytest.fixture
def insight(tmp_path: Path, monkeypatch):
    """The ``insight`` command in-process, on an MLflow store of the test's own (until
    ``on_store`` points it at another); an exception nothing handles fails the test."""
    monkeypatch.setenv("INSIGHT_DATA_DIR", str(tmp_path / "var"))
    runner = CliRunner()

    def run(*args):
        return runner.invoke(main, [str(arg) for arg in args], catch_exceptions=False)

    return run


def on_store(monkeypatch, store: MlflowStore) -> None:
    monkeypatch.setenv("INSIGHT_MLFLOW_TRACKING_URI", store.tracking_uri)
    monkeypatch.setenv("INSIGHT_MLFLOW_ARTIFACT_ROOT", store.artifact_root)


def _features(customer_world: pd.DataFrame, row: int) -> dict:
    record = customer_world.drop(columns=["customer_id", *LABEL_COLUMNS]).iloc[row].to_dict()
    plain = {k: v.item() if hasattr(v, "item") else v for k, v in record.items()}
    return {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in plain.items()}


def _service_answers(api, customer_world: pd.DataFrame, rows: range, model: str) -> list[dict]:
    """``model``'s answers from the service for ``rows`` of the world, in order."""
    answers = []
    for start in range(rows.start, rows.stop, 50):  # at most 100 customers per request
        batch = [
            {
                "customer_id": str(customer_world["customer_id"].iloc[row]),
                "features": _features(customer_world, row),
            }
            for row in range(start, min(start + 50, rows.stop))
        ]
        response = api.post(SCORE, json={"customers": batch, "models": [model]})
        assert response.status_code == 200, response.text
        answers += [result["scores"][model] for result in response.json()["results"]]
    return answers


def _assert_rows_equal(written: pd.DataFrame, expected: list[dict], columns: list[str]) -> None:
    assert len(written) == len(expected)
    for column in columns:
        values = [answer[column] for answer in expected]
        if isinstance(values[0], float):
            np.testing.assert_allclose(written[column].to_numpy(float), values, rtol=0, atol=1e-9)
        else:
            assert written[column].astype(str).tolist() == [str(v) for v in values], column


# --- insight predict <customer model> ----------------------------------------------------------


def test_predict_writes_the_id_and_the_services_answer_for_every_row(
    insight, monkeypatch, tmp_path, full_store, full_api, customer_world
):
    on_store(monkeypatch, full_store)
    rows = range(60, 140)
    table = customer_world.iloc[list(rows)]
    assert table.isna().any().any()  # blanks reach the models as blanks
    csv, parquet = tmp_path / "customers.csv", tmp_path / "customers.parquet"
    table.to_csv(csv, index=False)
    table.to_parquet(parquet, index=False)
    churn_out, occupation_out = tmp_path / "churn", tmp_path / "occupation"

    churn = insight("predict", "churn", "--data", csv, "--out", churn_out, "--format", "csv")
    occupation = insight(
        "predict",
        "occupation",
        "--data",
        parquet,
        "--out",
        occupation_out,
        "--id-column",
        "customer_id",
    )

    production = str(full_store.activate().get_model_version_by_alias("churn", PRODUCTION).version)
    assert churn.exit_code == 0, churn.output
    assert f"wrote {len(rows)} rows of answers from churn {production} to" in churn.stdout
    (part,) = churn_out.glob("part-*.csv")
    written = pd.read_csv(part, dtype={"customer_id": str, "churn_version": str})
    assert list(written.columns) == [
        "customer_id",
        "churn_probability",
        "churn_risk_level",
        "churn_version",
    ]
    assert written["customer_id"].tolist() == table["customer_id"].tolist()
    assert set(written["churn_version"]) == {production}
    assert set(written["churn_risk_level"]) <= RISK_LEVELS
    _assert_rows_equal(
        written,
        _service_answers(full_api, customer_world, rows, "churn"),
        ["churn_probability", "churn_risk_level"],
    )

    assert occupation.exit_code == 0, occupation.output
    written = pd.read_parquet(occupation_out)
    expected = _service_answers(full_api, customer_world, rows, "occupation")
    assert list(written.columns) == ["customer_id", *expected[0], "occupation_version"]
    assert written["customer_id"].tolist() == table["customer_id"].tolist()
    _assert_rows_equal(written, expected, list(expected[0]))


def test_predict_equals_the_pyfunc_model_and_names_what_it_cannot_read(
    insight, monkeypatch, tmp_path, full_store, customer_world
):
    on_store(monkeypatch, full_store)
    table = customer_world.head(30).drop(columns="customer_id")
    data = tmp_path / "customers.csv"
    table.to_csv(data, index=False)

    plain = insight("predict", "channel-preference", "--data", data, "--out", tmp_path / "plain")
    assert plain.exit_code == 0, plain.output
    written = pd.read_parquet(tmp_path / "plain")
    client = full_store.activate()
    version = client.get_model_version_by_alias("channel-preference", PRODUCTION).version
    pyfunc = mlflow.pyfunc.load_model(
        client.get_model_version_download_uri("channel-preference", version)
    )
    expected = pyfunc.predict(pd.read_csv(data))  # with MLflow's schema enforcement
    # No id column: each answer says where its row was.
    assert list(written.columns) == [
        "source_file",
        "source_row",
        *expected.columns,
        "channel_preference_version",
    ]
    assert written["source_file"].eq("customers.csv").all()
    assert written["source_row"].tolist() == list(range(len(table)))
    _assert_rows_equal(written, expected.to_dict(orient="records"), list(expected.columns))

    missing = insight(
        "predict", "churn", "--data", data, "--out", tmp_path / "a", "--id-column", "客户编号"
    )
    assert missing.exit_code == 1
    assert "the table has no column '客户编号'" in missing.output
    garbled = tmp_path / "garbled.csv"
    garbled.write_bytes(b"customer_id,age\nC1,\xff\xff\n")  # neither UTF-8 nor GB18030
    unreadable = insight("predict", "churn", "--data", garbled, "--out", tmp_path / "b")
    assert unreadable.exit_code == 1
    assert "garbled.csv is neither UTF-8 nor GB18030 text" in unreadable.output
    for result in (missing, unreadable):
        assert "Traceback" not in result.output


# --- insight train <customer model> ------------------------------------------------------------


def test_train_churn_on_a_table_registers_a_version_and_prints_its_figures(
    insight, tmp_path, customer_world
):
    data = tmp_path / "customers.csv"
    customer_world.head(400).to_csv(data, index=False)

    trained = insight(
        "train", "churn", "--data", data, "--target", "churned", "--id-column", "customer_id"
    )

    assert trained.exit_code == 0, trained.output
    assert "registered churn version 1" in trained.stdout
    run_id = re.search(r"run id: (\w+)", trained.stdout).group(1)
    figures = re.search(
        r"churn: ROC-AUC (\d\.\d{3}) vs one-feature rule \((\w+)\) (\d\.\d{3}); "
        r"top-decile lift (\d+\.\d\d)",
        trained.output,
    )
    assert figures, trained.output
    assert "churn: 320 training and 80 held-out customers" in trained.output

    store = MlflowStore.embedded(tmp_path / "var")
    client = store.activate()
    run = client.get_run(run_id)
    metrics = run.data.metrics
    assert float(figures.group(1)) == pytest.approx(metrics["roc_auc"], abs=5e-4)
    assert float(figures.group(3)) == pytest.approx(metrics["baseline_roc_auc"], abs=5e-4)
    assert float(figures.group(4)) == pytest.approx(metrics["top_decile_lift"], abs=5e-3)
    assert run.data.params["rows_used"] == "400"
    (version,) = client.search_model_versions("name='churn'")
    assert version.run_id == run_id
    # The id and the other models' labels are no features; the registered model answers.
    features = set(
        mlflow.pyfunc.load_model("models:/churn/1").metadata.get_input_schema().input_names()
    )
    assert "customer_id" not in features and not features & set(LABEL_COLUMNS)


def test_a_bad_target_is_a_clear_error_without_a_traceback(insight, tmp_path, customer_world):
    data = tmp_path / "customers.csv"
    customer_world.head(200).to_csv(data, index=False)

    missing = insight(
        "train", "churn", "--data", data, "--target", "churn_flag", "--id-column", "customer_id"
    )
    not_yes_no = insight(
        "train", "churn", "--data", data, "--target", "region", "--id-column", "customer_id"
    )

    assert missing.exit_code == 1
    assert "Error: target column(s) not found: churn_flag" in missing.output
    assert not_yes_no.exit_code == 1
    assert "column 'region' must hold yes/no labels" in not_yes_no.output
    for result in (missing, not_yes_no):
        assert "Traceback" not in result.output
    client = MlflowStore.embedded(tmp_path / "var").activate()
    assert client.search_registered_models() == []  # nothing registered


# --- GB18030 files -------------------------------------------------------------------------------


def _user_table(customer_world: pd.DataFrame, rows: int) -> pd.DataFrame:
    """A user's own churn table: Chinese headers and categories, 是/否 labels, some blanks."""
    world = customer_world.head(rows)
    return pd.DataFrame(
        {
            "客户编号": [f"KH{i:05d}" for i in range(rows)],
            "性别": world["gender"].astype(str),
            "地区": world["region"].astype(str),
            "套餐": world["plan_name"].astype(str),
            "合约类型": world["contract_type"].astype(str),
            "在网月数": world["tenure_months"],
            "月费": world["plan_monthly_fee"],
            "近三月消费": world["spend_m3"],
            "消费趋势": world["spend_trend"],
            "投诉次数": world["complaints_6m"],
            "满意度": world["survey_score"],  # often blank
            "是否流失": world["churned"].map({1: "是", 0: "否"}),
        }
    )


def test_a_gb18030_table_trains_a_churn_model_and_predicts_with_its_chinese_intact(
    insight, tmp_path, customer_world
):
    table = _user_table(customer_world, 400)
    gb = tmp_path / "客户.csv"
    gb.write_bytes(table.to_csv(index=False).encode("gb18030"))
    with pytest.raises(UnicodeDecodeError):
        gb.read_bytes().decode("utf-8")  # really not UTF-8

    trained = insight(
        "train", "churn", "--data", gb, "--target", "是否流失", "--id-column", "客户编号"
    )
    assert trained.exit_code == 0, trained.output
    model = mlflow.pyfunc.load_model("models:/churn/1").unwrap_python_model()
    categorical = model.features.categorical
    for column in ("性别", "地区", "套餐", "合约类型"):
        assert set(categorical[column]) == set(table[column]), column
    assert "客户编号" not in model.features.columns and "是否流失" not in model.features.columns

    promoted = insight("models", "promote", "churn", "--version", "1")
    assert promoted.exit_code == 0, promoted.output
    out = tmp_path / "answers"
    predicted = insight("predict", "churn", "--data", gb, "--out", out, "--id-column", "客户编号")
    assert predicted.exit_code == 0, predicted.output
    written = pd.read_parquet(out)
    assert written["客户编号"].tolist() == table["客户编号"].astype(str).tolist()
    expected = model.predict(None, table)
    np.testing.assert_allclose(
        written["churn_probability"], expected["churn_probability"], rtol=0, atol=1e-9
    )


def test_a_gb18030_corpus_trains_the_demand_classifier_with_chinese_headers_and_labels(
    insight, tmp_path, demand_corpus
):
    corpus = demand_corpus.dropna(subset=["category"]).head(700)
    table = corpus.rename(columns={"text": "内容", "category": "类别"})[["内容", "类别"]]
    gb = tmp_path / "诉求.csv"
    gb.write_bytes(table.to_csv(index=False).encode("gb18030"))

    trained = insight(
        "train",
        "demand-classifier",
        "--data",
        gb,
        "--text-column",
        "内容",
        "--label-column",
        "类别",
    )

    assert trained.exit_code == 0, trained.output
    model = mlflow.pyfunc.load_model("models:/demand-classifier/1").unwrap_python_model()
    assert set(model.scorer.classes) == set(table["类别"])  # every label read as written

    promoted = insight("models", "promote", "demand-classifier", "--version", "1")
    assert promoted.exit_code == 0, promoted.output
    out = tmp_path / "answers"
    predicted = insight(
        "predict",
        "demand-classifier",
        "--data",
        gb,
        "--text-column",
        "内容",
        "--out",
        out,
        "--format",
        "csv",
    )
    assert predicted.exit_code == 0, predicted.output
    (part,) = out.glob("part-*.csv")
    written = pd.read_csv(part, encoding="utf-8")  # UTF-8: what the command writes
    assert written["source_file"].eq("诉求.csv").all()
    assert written["source_row"].tolist() == list(range(len(table)))
    assert set(written["category"]) <= set(table["类别"])
    expected = model.predict(None, pd.DataFrame({"text": table["内容"]}))
    assert written["category"].tolist() == expected["label"].tolist()
    assert written["needs_review"].tolist() == expected["needs_review"].tolist()


def test_a_gb18030_file_imports_customers_with_their_chinese_values(
    insight, monkeypatch, migrated_url, tmp_path, customer_world
):
    monkeypatch.setenv("INSIGHT_DATABASE_URL", migrated_url)
    table = customer_world.head(50).drop(columns=list(LABEL_COLUMNS))
    gb = tmp_path / "customers.csv"
    gb.write_bytes(table.to_csv(index=False).encode("gb18030"))

    imported = insight("customers", "import", gb)

    assert imported.exit_code == 0, imported.output
    assert "50 inserted, 0 updated, 0 skipped" in imported.stdout
    engine = create_engine_for(migrated_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(select(Customer.customer_id, Customer.record))
            stored = dict(rows.tuples().all())
    finally:
        engine.dispose()
    for row in table.itertuples(index=False):
        record = stored[row.customer_id]
        for column in ("gender", "region", "plan_name", "contract_type"):
            assert record[column] == str(getattr(row, column)), column
