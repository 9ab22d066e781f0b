"""``insight predict`` on the local engine: every customer model at once with the service's
numbers and each model's version in every row; bad rows listed and skipped, never coerced;
worker processes; a stopped job finished by running it again; the app database as input."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from model_registry.registry import PRODUCTION
from tests.conftest import CUSTOMER_MODEL_NAMES

SCORE, CLASSIFY = "/v1/customers/score", "/v1/demands/classify"


def _features(row: pd.Series) -> dict:
    plain = {k: v.item() if hasattr(v, "item") else v for k, v in row.items()}
    return {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in plain.items()}


def _service_scores(api, table: pd.DataFrame) -> pd.DataFrame:
    """Each customer's answers from the service, flattened as the batch names its columns (the
    risk factors, which the batch leaves out, aside)."""
    rows = []
    for start in range(0, len(table), 50):
        batch = [
            {"customer_id": str(row.customer_id), "features": _features(row.drop("customer_id"))}
            for _, row in table.iloc[start : start + 50].iterrows()
        ]
        response = api.post(SCORE, json={"customers": batch})
        assert response.status_code == 200, response.text
        for result in response.json()["results"]:
            flat = {"customer_id": result["customer_id"]}
            for answer in result["scores"].values():
                flat.update({k: v for k, v in answer.items() if k != "risk_factors"})
            rows.append(flat)
    return pd.DataFrame(rows)


def _assert_same_answers(written: pd.DataFrame, expected: pd.DataFrame) -> None:
    assert len(written) == len(expected)
    for column in expected.columns:
        if pd.api.types.is_float_dtype(expected[column]):
            np.testing.assert_allclose(written[column], expected[column], rtol=0, atol=1e-9)
        else:
            assert written[column].tolist() == expected[column].tolist(), column


def _versions(store) -> dict[str, str]:
    client = store.activate()
    return {
        name: str(client.get_model_version_by_alias(name, PRODUCTION).version)
        for name in CUSTOMER_MODEL_NAMES
    }


def test_every_customer_model_answers_as_the_service_does_with_its_version_in_every_row(
    insight, tmp_path, full_store, full_api, customers
):
    data, out = tmp_path / "customers.parquet", tmp_path / "answers"
    customers.to_parquet(data, index=False, row_group_size=100)  # three parts

    result = insight("predict", "--data", data, "--out", out, "--workers", "1")

    assert result.exit_code == 0, result.output
    assert sorted(path.name for path in out.glob("part-*")) == [
        f"part-0000{n}.parquet" for n in range(3)
    ]
    written = pd.read_parquet(out)
    assert written["customer_id"].tolist() == customers["customer_id"].astype(str).tolist()
    _assert_same_answers(written, _service_scores(full_api, customers))
    for name, version in _versions(full_store).items():
        assert written[f"{name.replace('-', '_')}_version"].eq(version).all(), name
    assert "3/3 parts, 300 rows" in result.stderr  # progress, with rows/s and the time left
    assert "rows/s" in result.stderr and "ETA" in result.stderr
    job = json.loads((out / "_job.json").read_text())
    assert job["done"]["rows"] == 300 and job["done"]["bad_rows"] == 0
    assert not (out / "_bad_rows.csv").exists()


def test_bad_rows_are_listed_with_file_row_and_reason_and_the_rest_scored_by_two_workers(
    insight, tmp_path, customers
):
    table = customers.astype({"age": object, "data_gb": object})
    table.loc[3, "age"] = "三十"  # not a number
    table.loc[7, ["age", "data_gb"]] = ["x", "inf"]  # neither is a finite number
    table.loc[9, "age"] = "NA"  # a spelling of a blank: scored as a blank
    table.loc[155, "data_gb"] = "1,5"
    folder = tmp_path / "in"
    folder.mkdir()
    table.iloc[:150].to_csv(folder / "a.csv", index=False)
    table.iloc[150:].to_csv(folder / "b.csv", index=False)
    clean = tmp_path / "clean.parquet"
    customers.assign(age=customers["age"].where(customers.index != 9)).to_parquet(clean)

    result = insight("predict", "--data", folder, "--out", tmp_path / "two", "--workers", "2")
    reference = insight("predict", "--data", clean, "--out", tmp_path / "one", "--workers", "1")

    assert result.exit_code == 0, result.output
    assert reference.exit_code == 0, reference.output
    assert "skipped 3 bad rows" in result.output
    listed = (tmp_path / "two" / "_bad_rows.csv").read_text()
    bad = pd.read_csv(tmp_path / "two" / "_bad_rows.csv", dtype={"id": str})
    ids = customers["customer_id"].astype(str)
    assert bad[["source_file", "source_row", "id"]].values.tolist() == [
        ["a.csv", 3, ids[3]],
        ["a.csv", 7, ids[7]],
        ["b.csv", 5, ids[155]],
    ]
    assert [set(reason.split("; ")) for reason in bad["reason"]] == [
        {"age: not a number"},
        {"age: not a number", "data_gb: not a number"},
        {"data_gb: not a number"},
    ]
    for value in ("三十", "inf", "1,5"):  # reasons name the column, never the value
        assert value not in listed
    written = pd.read_parquet(tmp_path / "two")
    expected = pd.read_parquet(tmp_path / "one")
    expected = expected[~expected["customer_id"].isin(ids[[3, 7, 155]])].reset_index(drop=True)
    pd.testing.assert_frame_equal(written, expected, check_exact=True)


def test_a_rerun_writes_only_the_parts_a_stopped_run_left(insight, tmp_path, customers):
    data, out = tmp_path / "customers.parquet", tmp_path / "answers"
    customers.to_parquet(data, index=False, row_group_size=60)  # five parts
    args = ("predict", "churn", "occupation", "--data", data, "--out", out, "--workers", "1")
    assert insight(*args).exit_code == 0
    before = pd.read_parquet(out)
    # As a run killed while writing part 3 leaves it: parts 3 and 4 not done, a part-written file.
    for number in (3, 4):
        (out / f"part-0000{number}.parquet").unlink()
        (out / "_parts" / f"0000{number}.json").unlink()
    (out / ".part-00003.parquet.tmp").write_bytes(b"PAR1 cut short")
    kept = {path.name: path.stat().st_mtime_ns for path in out.glob("part-*")}

    again = insight(*args)

    assert again.exit_code == 0, again.output
    assert "resuming: 3 of 5 parts were written before" in again.stderr
    assert {name: (out / name).stat().st_mtime_ns for name in kept} == kept
    assert sorted(path.name for path in out.glob("part-*")) == [
        f"part-0000{n}.parquet" for n in range(5)
    ]
    assert not list(out.glob(".*"))
    pd.testing.assert_frame_equal(pd.read_parquet(out), before, check_exact=True)
    assert json.loads((out / "_job.json").read_text())["done"]["rows"] == 300

    other = insight("predict", "churn", "--data", data, "--out", out)
    assert other.exit_code == 1
    assert "holds the output of another job" in other.output


def test_the_app_databases_customers_are_scored_like_the_same_table(
    insight,
    tmp_path,
    monkeypatch,
    migrated_url,
    customers,
):
    monkeypatch.setenv("INSIGHT_DATABASE_URL", migrated_url)
    table = customers.head(120)
    table.to_csv(tmp_path / "customers.csv", index=False)
    table.to_parquet(tmp_path / "customers.parquet", index=False)
    assert insight("customers", "import", tmp_path / "customers.csv").exit_code == 0

    stored = insight("predict", "--from-db", "--out", tmp_path / "db", "--workers", "1")
    read = insight("predict", "--data", tmp_path / "customers.parquet", "--out", tmp_path / "file")

    assert stored.exit_code == 0, stored.output
    assert read.exit_code == 0, read.output
    from_db = pd.read_parquet(tmp_path / "db")
    from_file = pd.read_parquet(tmp_path / "file")
    assert from_db["customer_id"].tolist() == sorted(from_file["customer_id"])  # id order
    from_file = from_file.set_index("customer_id").loc[from_db["customer_id"]].reset_index()
    pd.testing.assert_frame_equal(from_db, from_file, check_exact=True)


def test_text_models_answer_each_text_as_the_service_does_and_list_blank_ones(
    insight, tmp_path, full_api, demand_corpus
):
    texts = demand_corpus[["text"]].head(30).copy()
    texts.loc[5, "text"] = "   "
    data, out = tmp_path / "texts.csv", tmp_path / "answers"
    texts.to_csv(data, index=False)

    result = insight("predict", "demand-classifier", "spam-filter", "--data", data, "--out", out)

    assert result.exit_code == 0, result.output
    written = pd.read_parquet(out)
    kept = [i for i in range(30) if i != 5]
    assert written["source_row"].tolist() == kept
    response = full_api.post(CLASSIFY, json={"texts": texts["text"].iloc[kept].tolist()})
    assert response.status_code == 200, response.text
    served = response.json()["results"]
    assert written["category"].tolist() == [answer["category"] for answer in served]
    assert written["spam"].tolist() == [answer["spam"] for answer in served]
    np.testing.assert_allclose(
        written["spam_probability"], [a["spam_probability"] for a in served], atol=5e-5
    )
    bad = pd.read_csv(out / "_bad_rows.csv")
    assert bad[["source_file", "source_row", "reason"]].values.tolist() == [
        ["texts.csv", 5, "text: blank"]
    ]


def test_mistakes_are_named_without_a_traceback(insight, tmp_path, customers):
    data = tmp_path / "customers.parquet"
    customers.to_parquet(data, index=False)
    empty = tmp_path / "empty"
    empty.mkdir()
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "notes.txt").write_text("something else")
    texts = tmp_path / "texts.csv"
    pd.DataFrame({"text": ["宽带断网了"]}).to_csv(texts, index=False)

    cases = {
        "unknown model(s) nope": ("predict", "nope", "--data", data),
        "give one model with it": (
            "predict",
            "churn",
            "occupation",
            "--version",
            "1",
            "--data",
            data,
        ),
        "holds no .parquet or .csv file": ("predict", "--data", empty),
        "is not empty": ("predict", "--data", data, "--out", tmp_path / "full"),
        "the table has no column 'age'": ("predict", "churn", "--data", texts),
        "the table has no column 'text'": ("predict", "spam-filter", "--data", data),
        "the Spark engine reads Parquet": ("predict", "--data", texts, "--engine", "spark"),
    }
    for message, args in cases.items():
        if "--out" not in args:
            args = (*args, "--out", tmp_path / "out")
        result = insight(*args)
        assert result.exit_code == 1, (message, result.output)
        assert message in result.output and "Traceback" not in result.output
    neither = insight("predict", "--out", tmp_path / "out")
    assert neither.exit_code == 2 and "--data" in neither.output


def test_without_pyspark_the_spark_engine_says_how_to_install_it(
    insight, tmp_path, monkeypatch, customers
):
    data = tmp_path / "customers.parquet"
    customers.to_parquet(data, index=False)
    monkeypatch.setitem(sys.modules, "pyspark", None)  # as when it is not installed

    result = insight("predict", "--data", data, "--out", tmp_path / "out", "--engine", "spark")

    assert result.exit_code == 1
    assert "pip install 'customer-insight[spark]'" in result.output
    assert not Path(tmp_path / "out").exists()
