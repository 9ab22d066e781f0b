"""``insight customers import``: idempotent upsert, bad rows by line, progress and summary."""

from __future__ import annotations

import pandas as pd
import pytest
from click.testing import CliRunner
from sqlalchemy import select

from app.cli import main
from app.db import Customer, create_engine_for
from training.customers.world import generate_customers

ROWS = 300


@pytest.fixture(scope="module")
def world() -> pd.DataFrame:
    return generate_customers(ROWS, seed=5)


@pytest.fixture
def insight(migrated_url, monkeypatch):
    monkeypatch.setenv("INSIGHT_DATABASE_URL", migrated_url)
    runner = CliRunner()
    return lambda *args: runner.invoke(main, [str(arg) for arg in args])


def _stored(url: str) -> dict[str, dict]:
    engine = create_engine_for(url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(select(Customer.customer_id, Customer.record))
            return dict(rows.tuples().all())
    finally:
        engine.dispose()


def test_importing_twice_stores_the_same_rows(insight, migrated_url, world, tmp_path):
    path = tmp_path / "customers.csv"
    world.to_csv(path, index=False)

    first = insight("customers", "import", path, "--chunk-rows", 120)
    assert first.exit_code == 0, first.output
    assert f"{ROWS} inserted, 0 updated, 0 skipped" in first.stdout
    assert "customers: 120 / 300 rows (40%)" in first.stderr
    assert "customers: 300 / 300 rows (100%)" in first.stderr
    stored = _stored(migrated_url)

    second = insight("customers", "import", path, "--chunk-rows", 120)
    assert f"0 inserted, {ROWS} updated, 0 skipped" in second.stdout
    assert _stored(migrated_url) == stored
    assert len(stored) == ROWS


def test_records_keep_their_types_and_blanks(insight, migrated_url, world, tmp_path):
    path = tmp_path / "customers.parquet"
    world.to_parquet(path, index=False)
    assert insight("customers", "import", path).exit_code == 0

    row = world.iloc[0]
    record = _stored(migrated_url)[row["customer_id"]]
    assert "customer_id" not in record and len(record) == len(world.columns) - 1
    assert record["age"] == int(row["age"]) and isinstance(record["age"], int)
    assert record["gender"] == row["gender"]
    blank_survey = world["survey_score"].isna()
    blank_id = world.loc[blank_survey, "customer_id"].iloc[0]
    assert _stored(migrated_url)[blank_id]["survey_score"] is None


def test_a_bad_row_is_reported_by_line_and_skipped(insight, migrated_url, world, tmp_path):
    frame = world.head(10).astype(object).copy()
    frame["vip_level"] = "金卡"  # a column the schema does not know: kept as it is
    frame.loc[2, "age"] = "abc"  # file line 4
    frame.loc[5, "gender"] = "unknown"  # line 7
    frame.loc[7, "customer_id"] = frame.loc[0, "customer_id"]  # line 9
    path = tmp_path / "customers.csv"
    frame.to_csv(path, index=False)

    result = insight("customers", "import", path, "--chunk-rows", 100)
    assert result.exit_code == 0, result.output
    assert "7 inserted, 0 updated, 3 skipped" in result.stdout
    assert "line 4: age: not a whole number" in result.stdout
    assert "line 7: gender: not one of 男, 女" in result.stdout
    assert "line 9: customer_id: repeats the id on line 2" in result.stdout

    stored = _stored(migrated_url)
    assert set(stored) == set(frame["customer_id"]) - {frame.loc[2, "customer_id"]} - {
        frame.loc[5, "customer_id"]
    }
    assert stored[frame.loc[0, "customer_id"]]["vip_level"] == "金卡"
    assert stored[frame.loc[0, "customer_id"]]["age"] == world.loc[0, "age"]


def test_only_the_first_problems_are_listed(insight, tmp_path):
    path = tmp_path / "customers.csv"
    path.write_text("customer_id,age\n" + "".join(f"C{i},x\n" for i in range(30)))
    result = insight("customers", "import", path, "--show-problems", 3)
    assert "0 inserted, 0 updated, 30 skipped" in result.stdout
    assert "skipped rows (first 3 of 30):" in result.stdout
    assert result.stdout.count("age: not a whole number") == 3


def test_a_table_of_another_schema_with_its_own_id_column(insight, migrated_url, tmp_path):
    path = tmp_path / "crm.csv"
    path.write_text("手机号,套餐,月消费\n13800000001,畅享,88\n13800000002,,120.5\n")
    result = insight("customers", "import", path, "--id-column", "手机号")
    assert result.exit_code == 0, result.output
    assert _stored(migrated_url) == {
        "13800000001": {"套餐": "畅享", "月消费": "88"},
        "13800000002": {"套餐": None, "月消费": "120.5"},
    }


def test_a_missing_id_column(insight, tmp_path):
    path = tmp_path / "crm.csv"
    path.write_text("phone,plan\n1,a\n")
    result = insight("customers", "import", path)
    assert result.exit_code == 1
    assert "has no column 'customer_id' (use --id-column)" in result.output


def test_an_unmigrated_database_is_refused(database_url, monkeypatch, tmp_path):
    monkeypatch.setenv("INSIGHT_DATABASE_URL", database_url)
    path = tmp_path / "customers.csv"
    path.write_text("customer_id\nC1\n")
    result = CliRunner().invoke(main, ["customers", "import", str(path)])
    assert result.exit_code == 1
    assert "run `insight db upgrade`" in result.output


def test_a_row_of_the_wrong_width_is_reported_as_such(insight, migrated_url, world, tmp_path):
    path = tmp_path / "customers.csv"
    world.head(8).to_csv(path, index=False)
    lines = path.read_text().splitlines()
    lines[6] = "C-short,30,男"  # line 7: pandas would pad it with blanks, and store it
    lines[7] += ",surplus"  # line 8
    path.write_text("\n".join(lines) + "\n")
    result = insight("customers", "import", path, "--chunk-rows", 3)
    assert result.exit_code == 0, result.output
    width = len(world.columns)
    assert "6 inserted, 0 updated, 2 skipped" in result.stdout
    assert f"line 7: 3 fields, the header has {width}" in result.stdout
    assert f"line 8: {width + 1} fields, the header has {width}" in result.stdout
    assert "C-short" not in _stored(migrated_url)
    assert len(_stored(migrated_url)) == 6


def test_nothing_is_coerced(insight, migrated_url, tmp_path):
    path = tmp_path / "customers.csv"
    path.write_text(
        "customer_id,city_tier,age,note\n"
        "C1,1e3,30,ok\n"  # line 2: 1e3 is not how a whole number is written
        "C2,2,30.0,ok\n"  # line 3: nor 30.0
        "C3,2,9007199254740993,ok\n"  # line 4: past what a JSON reader keeps exactly
        "C4,2,31,a\x00b\n"  # line 5: PostgreSQL cannot store a NUL
        "C5,+3,32,ok\n"
    )
    result = insight("customers", "import", path)
    assert result.exit_code == 0, result.output
    assert "line 2: city_tier: not a whole number" in result.stdout
    assert "line 3: age: not a whole number" in result.stdout
    assert "line 4: age: not a whole number" in result.stdout
    assert "line 5: note: holds a NUL character" in result.stdout
    assert _stored(migrated_url) == {"C5": {"city_tier": 3, "age": 32, "note": "ok"}}


def test_ids_follow_the_rule_of_the_api(insight, migrated_url, tmp_path):
    path = tmp_path / "customers.csv"
    long_id = "C" * 20_000
    path.write_text(f"customer_id,age\n{long_id},1\nC 2,2\nC\x003,3\n客户-4,4\nKH-5,5\n\n")
    result = insight("customers", "import", path)
    assert result.exit_code == 0, result.output
    assert "line 2: customer_id: longer than 128 characters" in result.stdout
    assert (
        "line 3: customer_id: may hold only ASCII letters, digits and - _ . : @ +" in result.stdout
    )
    assert "line 4: customer_id: may hold only" in result.stdout
    assert "line 5: customer_id: may hold only" in result.stdout  # ASCII only: one spelling
    assert "line 7: customer_id: blank" in result.stdout  # an empty line stays a row
    assert long_id not in result.output
    assert _stored(migrated_url) == {"KH-5": {"age": 5}}


def test_a_file_that_cannot_be_read_stops_the_import(insight, migrated_url, tmp_path):
    path = tmp_path / "customers.csv"
    good = "customer_id,城市\n" + "".join(f"C{i},北京\n" for i in range(40_000))
    path.write_bytes(good.encode("gb18030") + b"C-bad,\x81 secret\n")
    result = insight("customers", "import", path)
    assert result.exit_code == 1
    assert "is not a well-formed GB18030 CSV file after line" in result.output
    assert "secret" not in result.output
