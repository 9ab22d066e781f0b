"""``insight models`` end to end: stage, gated promote, force, rollback and describe, on a real
MLflow store and the app database (SQLite, and PostgreSQL when INSIGHT_TEST_POSTGRES_URL is set).
"""

import getpass
import json

import pytest
from click.testing import CliRunner

from app.cli import main
from model_registry.registry import alias_version
from tests.model_registry.versions import CHURN, churn, churn_versions  # noqa: F401


@pytest.fixture
def insight(tmp_path, monkeypatch, churn, migrated_url):  # noqa: F811
    """Run ``insight`` on the churn store and a migrated app database of the test's own."""
    monkeypatch.setenv("INSIGHT_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("INSIGHT_MLFLOW_TRACKING_URI", churn.store.tracking_uri)
    monkeypatch.setenv("INSIGHT_MLFLOW_ARTIFACT_ROOT", churn.store.artifact_root)
    monkeypatch.setenv("INSIGHT_DATABASE_URL", migrated_url)
    runner = CliRunner()
    return lambda *args: runner.invoke(main, list(args), catch_exceptions=False)


def _production(churn) -> str | None:  # noqa: F811
    return alias_version(churn.store.activate(), CHURN, "production")


def _history(insight) -> list[dict]:
    described = insight("models", "describe", CHURN, "--json")
    assert described.exit_code == 0, described.output
    return json.loads(described.stdout)["history"]


def test_stage_then_promote_the_staged_version(insight, churn):  # noqa: F811
    staged = insight("models", "stage", CHURN, churn.twin, "--reason", "retrained on May data")
    assert staged.exit_code == 0, staged.output
    assert staged.stdout.strip() == f"churn@staging -> version {churn.twin}"
    promoted = insight("models", "promote", CHURN, "--actor", "ml-team")
    assert promoted.exit_code == 0, promoted.output
    assert promoted.stdout.strip() == f"churn@production -> version {churn.twin}"
    for gate in ("signature", "smoke test", "evaluation"):
        assert f"gate {gate}: passed" in promoted.stderr
    assert _production(churn) == churn.twin
    stage, promote = _history(insight)
    assert (stage["action"], stage["actor"], stage["reason"]) == (
        "stage",
        getpass.getuser(),
        "retrained on May data",
    )
    assert (promote["from_version"], promote["to_version"], promote["actor"]) == (
        churn.base,
        churn.twin,
        "ml-team",
    )
    assert not promote["forced"] and len(promote["gates"]) == 3


def test_promote_with_nothing_staged_is_refused(insight, churn):  # noqa: F811
    result = insight("models", "promote", CHURN)
    assert result.exit_code == 1
    assert "churn has no staged version" in result.output and "Traceback" not in result.output


def test_a_failed_gate_exits_non_zero_naming_the_gate_and_figures(insight, churn):  # noqa: F811
    result = insight("models", "promote", CHURN, "--version", churn.shuffled)
    assert result.exit_code == 1
    assert "gate evaluation: FAILED: roc_auc" in result.stderr
    assert "gate signature: passed" in result.stderr
    assert f"churn version {churn.shuffled} was not promoted" in result.output
    assert "Production is unchanged" in result.output
    assert _production(churn) == churn.base
    assert _history(insight) == []


def test_force_without_a_reason_is_refused(insight, churn):  # noqa: F811
    result = insight("models", "promote", CHURN, "--version", churn.broken, "--force")
    assert result.exit_code == 1 and "--force needs --reason" in result.output
    assert _production(churn) == churn.base


def test_forced_promotion_says_so_and_is_recorded(insight, churn):  # noqa: F811
    result = insight(
        "models",
        "promote",
        CHURN,
        "--version",
        churn.other_columns,
        "--force",
        "--reason",
        "新字段",
    )
    assert result.exit_code == 0, result.output
    assert "gate signature: FAILED, overridden by --force: no longer accepts column 'age'" in (
        result.stderr
    )
    assert _production(churn) == churn.other_columns
    (event,) = _history(insight)
    assert event["forced"] and event["reason"] == "新字段"
    assert [g["name"] for g in event["gates"] if not g["passed"]] == ["signature"]


def test_rollback_returns_to_the_version_before(insight, churn):  # noqa: F811
    assert insight("models", "promote", CHURN, "--version", churn.twin).exit_code == 0
    result = insight("models", "rollback", CHURN, "--reason", "complaints up")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"churn@production -> version {churn.base} (was {churn.twin})"
    assert _production(churn) == churn.base
    again = insight("models", "rollback", CHURN)
    assert again.exit_code == 1 and "no earlier production version" in again.output
    assert [e["action"] for e in _history(insight)] == ["promote", "rollback"]


def test_describe_shows_versions_figures_and_the_audit_trail(insight, churn):  # noqa: F811
    insight("models", "stage", CHURN, churn.twin)
    insight("models", "promote", CHURN, "--version", churn.shuffled, "--force", "--reason", "试验")
    result = insight("models", "describe", CHURN)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "churn: versions"
    assert lines[1].split() == [
        "version",
        "aliases",
        "created",
        "(UTC)",
        "run",
        "id",
        "roc_auc",
        "pr_auc",
    ]
    rows = {line.split()[0]: line for line in lines[2:7]}
    assert set(rows) == {churn.base, churn.twin, churn.shuffled, churn.other_columns, churn.broken}
    assert "production" in rows[churn.shuffled] and "staging" in rows[churn.twin]
    trail = lines[lines.index("churn: audit trail") + 1 :]
    assert trail[0].split()[:4] == ["at", "(UTC)", "action", "alias"]
    stage, promote = trail[1].split(), trail[2].split()
    assert stage[2:4] == ["stage", "staging"] and promote[2:4] == ["promote", "production"]
    assert f"{churn.base} -> {churn.shuffled}" in trail[2]
    assert promote[-3:] == ["yes", "evaluation", "试验"]


def test_describe_shows_a_text_models_accuracy_and_macro_f1(trained_store, monkeypatch):
    monkeypatch.setenv("INSIGHT_MLFLOW_TRACKING_URI", trained_store.tracking_uri)
    result = CliRunner().invoke(main, ["models", "describe", "demand-classifier", "--json"])
    assert result.exit_code == 0, result.output
    (version,) = json.loads(result.stdout)["versions"]
    assert list(version["metrics"]) == ["accuracy", "macro_f1"]
    assert version["aliases"] == ["production"]


def test_commands_refuse_an_app_database_that_is_behind(insight, churn, tmp_path, monkeypatch):  # noqa: F811
    monkeypatch.setenv("INSIGHT_DATABASE_URL", f"sqlite:///{tmp_path / 'empty.db'}")
    result = insight("models", "promote", CHURN, "--version", churn.twin)
    assert result.exit_code == 1 and "insight db upgrade" in result.output
    assert _production(churn) == churn.base


def test_unknown_models_and_versions_are_reported_without_a_traceback(insight, churn):  # noqa: F811
    for args, message in (
        (("stage", CHURN, "99"), "model 'churn' has no version 99"),
        (("promote", CHURN, "--version", "99"), "model 'churn' has no version 99"),
        (("describe", "no-such-model"), "model 'no-such-model' is not registered"),
        (("rollback", "no-such-model"), "model 'no-such-model' is not registered"),
    ):
        result = insight("models", *args)
        assert result.exit_code == 1 and message in result.output, result.output
        assert "Traceback" not in result.output
