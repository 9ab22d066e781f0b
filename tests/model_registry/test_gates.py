"""Each promotion gate, passing and failing on purpose: on schemas and figures, then on real
registered versions."""

import pytest
from mlflow.types import ColSpec, DataType, Schema

from model_registry.gates import (
    EVALUATION,
    METRIC_TOLERANCE,
    NOTHING_TO_COMPARE,
    SIGNATURE,
    SMOKE_TEST,
    check_promotion,
    evaluation_gate,
    headline_metrics,
    signature_gate,
)
from model_registry.registry import resolve_version
from tests.model_registry.versions import CHURN


def _schema(*columns: tuple[str, DataType], optional: tuple[str, ...] = ()) -> Schema:
    return Schema([ColSpec(kind, name, required=name not in optional) for name, kind in columns])


PRODUCTION_SCHEMA = _schema(
    ("age", DataType.long), ("fee", DataType.double), ("region", DataType.string)
)


def test_signature_gate_passes_the_same_input_and_safe_widening():
    assert signature_gate(PRODUCTION_SCHEMA, PRODUCTION_SCHEMA).passed
    narrow = _schema(("age", DataType.integer), ("fee", DataType.float))
    wide = _schema(("age", DataType.long), ("fee", DataType.double))
    assert signature_gate(wide, narrow).passed
    text = _schema(("text", DataType.string))
    assert signature_gate(text, text).passed


def test_signature_gate_fails_a_dropped_column_naming_it():
    candidate = _schema(("fee", DataType.double), ("region", DataType.string))
    result = signature_gate(candidate, PRODUCTION_SCHEMA)
    assert (result.name, result.passed) == (SIGNATURE, False)
    assert "no longer accepts column 'age'" in result.detail


def test_signature_gate_fails_a_type_production_callers_cannot_send():
    candidate = _schema(("age", DataType.long), ("fee", DataType.long), ("region", DataType.string))
    result = signature_gate(candidate, PRODUCTION_SCHEMA)
    assert not result.passed
    assert "column 'fee' is long, production took double" in result.detail


def test_signature_gate_fails_a_newly_required_column_but_not_a_new_optional_one():
    columns = [("age", DataType.long), ("fee", DataType.double), ("region", DataType.string)]
    optional = _schema(*columns, ("points", DataType.double), optional=("points",))
    assert signature_gate(optional, PRODUCTION_SCHEMA).passed
    required = _schema(*columns, ("points", DataType.double))
    result = signature_gate(required, PRODUCTION_SCHEMA)
    assert not result.passed and "requires column(s) production did not: points" in result.detail


def test_signature_gate_fails_a_text_model_reading_another_column():
    result = signature_gate(_schema(("内容", DataType.string)), _schema(("text", DataType.string)))
    assert not result.passed and "'text'" in result.detail


def test_signature_gate_fails_without_a_signature():
    result = signature_gate(None, PRODUCTION_SCHEMA)
    assert not result.passed and "candidate version logged no input signature" in result.detail


def test_evaluation_gate_allows_a_drop_within_the_tolerance():
    production = {"roc_auc": 0.80, "pr_auc": 0.60, "brier": 0.1}
    candidate = {"roc_auc": 0.80 - METRIC_TOLERANCE / 2, "pr_auc": 0.65, "brier": 0.5}
    result = evaluation_gate(candidate, production)
    assert (result.name, result.passed) == (EVALUATION, True)
    assert "roc_auc 0.790 vs 0.800 (-0.010)" in result.detail
    assert "brier" not in result.detail  # not a headline metric


def test_evaluation_gate_fails_a_drop_past_the_tolerance_with_the_figures():
    result = evaluation_gate(
        {"accuracy": 0.70, "macro_f1": 0.69}, {"accuracy": 0.75, "macro_f1": 0.7}
    )
    assert not result.passed
    assert "accuracy 0.700 vs 0.750 (-0.050)" in result.detail
    assert f"tolerance {METRIC_TOLERANCE}" in result.detail


@pytest.mark.parametrize(
    ("candidate", "production", "side"),
    [
        ({"roc_auc": 0.9}, {"roc_auc": 0.8, "pr_auc": 0.6}, "candidate"),
        ({"roc_auc": 0.9, "pr_auc": 0.6}, {"roc_auc": 0.8}, "production"),
    ],
)
def test_evaluation_gate_reports_a_missing_metric_as_a_failure(candidate, production, side):
    result = evaluation_gate(candidate, production)
    assert not result.passed and f"pr_auc missing on the {side} version" in result.detail


def test_evaluation_gate_fails_when_no_headline_metric_was_logged():
    assert not evaluation_gate({"brier": 0.1}, {"brier": 0.2}).passed


def test_headline_metrics_pick_the_logged_names_in_order():
    logged = {"pr_auc": 0.6, "brier": 0.1, "roc_auc": 0.8, "baseline_roc_auc": 0.7}
    assert list(headline_metrics(logged)) == ["roc_auc", "pr_auc"]


def _gates(churn, version):
    client = churn.store.activate()
    production = resolve_version(client, CHURN, alias="production")
    results = check_promotion(client, resolve_version(client, CHURN, version=version), production)
    assert [g.name for g in results] == [SIGNATURE, SMOKE_TEST, EVALUATION]
    return {g.name: g for g in results}


def test_a_version_trained_like_production_passes_every_gate(churn):
    gates = _gates(churn, churn.twin)
    assert all(g.passed for g in gates.values()), gates
    assert "answered its 2-row input example" in gates[SMOKE_TEST].detail
    assert "roc_auc" in gates[EVALUATION].detail and "(+0.000)" in gates[EVALUATION].detail


def test_a_version_trained_on_other_columns_fails_the_signature_gate(churn):
    gates = _gates(churn, churn.other_columns)
    assert not gates[SIGNATURE].passed
    assert "no longer accepts column 'age'" in gates[SIGNATURE].detail
    assert "loyalty_points" in gates[SIGNATURE].detail
    assert gates[SMOKE_TEST].passed


def test_a_version_whose_artifact_is_broken_fails_the_smoke_test(churn):
    gates = _gates(churn, churn.broken)
    assert not gates[SMOKE_TEST].passed
    assert gates[SMOKE_TEST].detail.startswith("does not load")
    assert gates[SIGNATURE].passed  # its MLmodel file, with the signature, is still there


def test_a_version_trained_on_shuffled_labels_fails_the_evaluation_gate(churn):
    gates = _gates(churn, churn.shuffled)
    assert not gates[EVALUATION].passed
    assert gates[SIGNATURE].passed and gates[SMOKE_TEST].passed


def test_with_no_production_version_only_the_smoke_test_has_work(churn):
    client = churn.store.activate()
    candidate = resolve_version(client, CHURN, version=churn.broken)
    gates = {g.name: g for g in check_promotion(client, candidate, None)}
    assert gates[SIGNATURE].passed and gates[SIGNATURE].detail == NOTHING_TO_COMPARE
    assert gates[EVALUATION].passed and gates[EVALUATION].detail == NOTHING_TO_COMPARE
    assert not gates[SMOKE_TEST].passed
