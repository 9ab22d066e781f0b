"""``insight feedback import``: outcomes and corrections from a file, checked as the API checks
them, bad rows listed by line and skipped, importing again replacing what was stored."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest
from click.testing import CliRunner
from sqlalchemy import select

from app.cli import main
from app.db import create_engine_for
from app.db.models import CustomerOutcome, TextCorrection


@pytest.fixture
def insight(migrated_url, full_store, customer_world, tmp_path, monkeypatch):
    """The command line on a migrated database holding three customers of the world."""
    monkeypatch.setenv("INSIGHT_DATABASE_URL", migrated_url)
    monkeypatch.setenv("INSIGHT_MLFLOW_TRACKING_URI", full_store.tracking_uri)
    runner = CliRunner()

    def run(*args):
        return runner.invoke(main, [str(arg) for arg in args])

    customers = tmp_path / "customers.csv"
    customer_world.head(3).to_csv(customers, index=False)
    assert run("customers", "import", customers).exit_code == 0
    return run


def _rows(url: str, table) -> list:
    engine = create_engine_for(url)
    try:
        with engine.connect() as connection:
            return list(connection.execute(select(table)).mappings())
    finally:
        engine.dispose()


def test_outcomes_are_imported_and_bad_rows_listed(insight, migrated_url, customer_world, tmp_path):
    ids = customer_world["customer_id"].head(3).tolist()
    path = tmp_path / "outcomes.csv"
    pd.DataFrame(
        {
            "customer_id": [ids[0], ids[1], ids[2], "C-nobody", ids[0], ids[1]],
            "as_of": [
                "2026-11-30",
                "2026-11-30",
                "2026-11-30",
                "2026-11-30",
                "2026-13-01",
                "2026-10-31",
            ],
            "churned": ["是", "no", "", "1", "1", "maybe"],
            "occupation": ["学生", "", "", "", "", ""],
            "channels": ["app|hotline", "", "store、kiosk", "", "", ""],
        }
    ).to_csv(path, index=False)
    first = insight("feedback", "import", path, "--by", "warehouse", "--chunk-rows", 4)
    assert first.exit_code == 0, first.output
    assert "imported outcomes.csv: 3 inserted, 0 updated, 3 skipped" in first.stdout
    assert "line 5: customer_id: the store holds no customer with this id" in first.stdout
    assert "line 6: as_of:" in first.stdout
    assert "line 7: churned:" in first.stdout
    assert "C-nobody" not in first.output  # an id may be personal data: the line says which
    assert "feedback: 6 / 6 rows (100%)" in first.stderr
    rows = {row["customer_id"]: row for row in _rows(migrated_url, CustomerOutcome)}
    assert rows[ids[0]]["churned"] is True and rows[ids[0]]["occupation"] == "学生"
    assert rows[ids[0]]["channels"] == ["app", "hotline"]
    assert rows[ids[1]]["churned"] is False and rows[ids[1]]["channels"] is None
    assert rows[ids[2]]["channels"] == ["kiosk", "store"]
    assert {row["reported_by"] for row in rows.values()} == {"warehouse"}
    assert rows[ids[0]]["as_of"] == date(2026, 11, 30)

    again = insight("feedback", "import", path, "--by", "warehouse")
    assert "0 inserted, 3 updated, 3 skipped" in again.stdout
    assert len(_rows(migrated_url, CustomerOutcome)) == 3


def test_an_unknown_channel_lists_the_known_ones(insight, customer_world, tmp_path):
    path = tmp_path / "outcomes.parquet"
    pd.DataFrame(
        {
            "customer_id": customer_world["customer_id"].head(1),
            "as_of": [pd.Timestamp("2026-11-30")],
            "channels": ["app|pigeon"],
            "reported_by": ["dw"],
        }
    ).to_parquet(path)
    result = insight("feedback", "import", path)
    assert "0 inserted, 0 updated, 1 skipped" in result.stdout
    assert "row 1: channels: 1 unknown; must be one of: store, web, app" in result.stdout


def test_corrections_of_texts(insight, migrated_url, tmp_path):
    path = tmp_path / "corrections.csv"
    pd.DataFrame(
        {
            "text": ["宽带断网三天了，手机13812345678", "我想换个便宜点的套餐", "你好", "话费"],
            "category": ["宽带故障", "资费套餐", "天气", ""],
            "spam": ["", "否", "", ""],
            "corrected_by": ["坐席7", "", "", ""],
        }
    ).to_csv(path, index=False)
    result = insight("feedback", "import", path, "--by", "qa-team")
    assert result.exit_code == 0, result.output
    assert "2 inserted, 0 updated, 2 skipped" in result.stdout
    assert "line 4: category: must be one of: " in result.stdout
    assert "line 5: category: give the right category, spam verdict or both" in result.stdout
    rows = sorted(_rows(migrated_url, TextCorrection), key=lambda row: row["category"])
    assert [row["corrected_by"] for row in rows] == ["坐席7", "qa-team"]  # 宽带故障 < 资费套餐
    assert "13812345678" not in rows[0]["text"] and rows[1]["spam"] is False
