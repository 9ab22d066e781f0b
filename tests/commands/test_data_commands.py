"""``insight data demands|customers --drift NAME``: the documented drifted worlds, by name."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from app.cli import main
from training.customers.schema import DRIFTED_WORLDS
from training.text.corpus import DRIFTED_WORDINGS

CATEGORY = DRIFTED_WORDINGS["new-wording"].category


@pytest.fixture
def insight(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("INSIGHT_DATA_DIR", str(tmp_path / "var"))
    runner = CliRunner()
    return lambda *args: runner.invoke(main, [str(arg) for arg in args])


def test_demands_of_the_new_wording_differ_only_in_the_drifted_category(insight, tmp_path):
    base, drifted = tmp_path / "base.csv", tmp_path / "drifted.csv"
    assert insight("data", "demands", "--out", base, "--n", 600, "--seed", 2).exit_code == 0
    result = insight(
        "data", "demands", "--out", drifted, "--n", 600, "--seed", 2, "--drift", "new-wording"
    )
    assert result.exit_code == 0, result.output
    before, after = pd.read_csv(base), pd.read_csv(drifted)
    pd.testing.assert_frame_equal(after.drop(columns="text"), before.drop(columns="text"))
    changed = after["text"] != before["text"]
    assert changed.any() and (after["category"][changed] == CATEGORY).mean() > 0.9


def test_drifted_only_writes_texts_of_the_new_wording(insight, tmp_path):
    out = tmp_path / "new.csv"
    result = insight(
        "data", "demands", "--out", out, "--n", 150, "--drift", "new-wording", "--drifted-only"
    )
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(out)
    assert len(frame) == 150 and (frame["category"] == CATEGORY).all()
    assert (frame["spam"] == 0).all()


def test_customers_of_the_price_war_differ_only_in_the_shifted_columns(insight, tmp_path: Path):
    base, war = tmp_path / "base", tmp_path / "war"
    common = ("--n", 400, "--seed", 5, "--format", "csv")
    assert insight("data", "customers", "--out", base, *common).exit_code == 0
    result = insight("data", "customers", "--out", war, *common, "--drift", "price-war")
    assert result.exit_code == 0, result.output
    before = pd.read_csv(base / "customers-00000.csv")
    after = pd.read_csv(war / "customers-00000.csv")
    moved = [*DRIFTED_WORLDS["price-war"], "churned"]
    pd.testing.assert_frame_equal(after.drop(columns=moved), before.drop(columns=moved))
    assert (after["spend_m1"] < before["spend_m1"]).mean() > 0.95


@pytest.mark.parametrize(
    ("command", "known"), [("demands", "new-wording"), ("customers", "price-war")]
)
def test_an_unknown_drift_is_a_usage_error_listing_the_known_ones(
    insight, tmp_path, command, known
):
    result = insight("data", command, "--out", tmp_path / "x", "--drift", "recession")
    assert result.exit_code == 2
    assert "Invalid value for '--drift'" in result.output and known in result.output
    assert "Traceback" not in result.output and not (tmp_path / "x").exists()


def test_drifted_only_needs_a_drift(insight, tmp_path):
    result = insight("data", "demands", "--out", tmp_path / "x.csv", "--drifted-only")
    assert result.exit_code == 2 and "--drifted-only needs --drift" in result.output
