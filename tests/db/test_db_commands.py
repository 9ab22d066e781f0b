"""``insight db upgrade`` and ``insight db current``."""

from __future__ import annotations

from click.testing import CliRunner

from app.cli import main
from app.db.migrations import head_revision


def test_upgrade_then_current(database_url, monkeypatch):
    monkeypatch.setenv("INSIGHT_DATABASE_URL", database_url)
    runner = CliRunner()
    head = head_revision()

    before = runner.invoke(main, ["db", "current"])
    assert before.exit_code == 0, before.output
    assert "revision (none) (empty: run `insight db upgrade`)" in before.output

    upgraded = runner.invoke(main, ["db", "upgrade"])
    assert upgraded.exit_code == 0, upgraded.output
    assert f"revision (empty) -> {head}" in upgraded.output
    assert f"already at revision {head}" in runner.invoke(main, ["db", "upgrade"]).output

    assert f"revision {head} (up to date)" in runner.invoke(main, ["db", "current"]).output


def test_the_default_database_is_a_file_in_the_data_dir(tmp_path, monkeypatch):
    monkeypatch.delenv("INSIGHT_DATABASE_URL", raising=False)
    monkeypatch.setenv("INSIGHT_DATA_DIR", str(tmp_path / "var"))
    result = CliRunner().invoke(main, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "var" / "insight.db").is_file()
