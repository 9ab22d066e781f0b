"""Promotion gates: what a version must show before it may replace the production version.

Each gate returns a ``GateResult`` (name, passed, detail); the audit trail stores them as given.

1. ``signature``: every input column production requires is still accepted with a type
   production's callers can send, and the candidate requires no column production did not.
2. ``smoke test``: the version loads through pyfunc and answers its logged input example,
   one answer per example row.
3. ``evaluation``: on each headline metric the candidate is not worse than production by more
   than ``METRIC_TOLERANCE`` (absolute); a headline metric missing on either side fails.

With no production version, gates 1 and 3 pass with "no production version to compare".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass

import mlflow.models
import mlflow.pyfunc
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient
from mlflow.types import DataType, Schema

SIGNATURE, SMOKE_TEST, EVALUATION = "signature", "smoke test", "evaluation"
NOTHING_TO_COMPARE = "no production version to compare"

METRIC_TOLERANCE = 0.02
"""How much lower (absolute) a candidate's headline metric may be than production's."""

HEADLINE_METRICS = ("accuracy", "macro_f1", "roc_auc", "pr_auc", "mean_roc_auc")
"""Metric names the trainers log that judge a model as a whole; higher is better for each.
Text models and occupation log accuracy and macro_f1, churn roc_auc and pr_auc, channel and
content preference mean_roc_auc."""

# Column types a caller may send where the candidate declares another: MLflow's safe casts.
_WIDER_TYPES: dict[DataType, set[DataType]] = {
    DataType.integer: {DataType.long, DataType.double},
    DataType.float: {DataType.double},
}


@dataclass(frozen=True)
class GateResult:
    """One gate's verdict on one candidate version, with the figures behind it."""

    name: str
    passed: bool
    detail: str

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def check_promotion(
    client: MlflowClient, candidate: ModelVersion, production: ModelVersion | None
) -> list[GateResult]:
    """Run every gate for ``candidate`` against ``production`` (None: nothing in production)."""
    smoke = smoke_gate(_model_uri(candidate))
    if production is None:
        return [
            GateResult(SIGNATURE, True, NOTHING_TO_COMPARE),
            smoke,
            GateResult(EVALUATION, True, NOTHING_TO_COMPARE),
        ]
    return [
        _compare_signatures(candidate, production),
        smoke,
        evaluation_gate(_metrics(client, candidate), _metrics(client, production)),
    ]


def signature_gate(candidate: Schema | None, production: Schema | None) -> GateResult:
    """Callers of production can call the candidate unchanged."""
    if candidate is None or production is None:
        side = "candidate" if candidate is None else "production"
        return GateResult(SIGNATURE, False, f"the {side} version logged no input signature")
    problems = _signature_problems(candidate, production)
    if problems:
        return GateResult(SIGNATURE, False, "; ".join(problems))
    required = len(production.required_input_names())
    return GateResult(SIGNATURE, True, f"accepts all {required} input columns production requires")


def smoke_gate(model_uri: str) -> GateResult:
    """The version loads and answers its logged input example, one answer per row."""
    try:
        model = mlflow.pyfunc.load_model(model_uri)
    except Exception as error:  # noqa: BLE001 - any load failure refuses the version
        return GateResult(SMOKE_TEST, False, f"does not load: {type(error).__name__}: {error}")
    example = model.input_example
    if example is None:
        return GateResult(SMOKE_TEST, False, "loads, but logged no input example to answer")
    try:
        answer = model.predict(example)
    except Exception as error:  # noqa: BLE001
        # Only the error's type: its message may quote the example, which is customer data.
        return GateResult(
            SMOKE_TEST,
            False,
            f"loads, but answering its input example raised {type(error).__name__}",
        )
    if len(answer) != len(example):
        return GateResult(
            SMOKE_TEST, False, f"answered {len(answer)} rows for {len(example)} example rows"
        )
    return GateResult(SMOKE_TEST, True, f"loaded and answered its {len(example)}-row input example")


def evaluation_gate(
    candidate: Mapping[str, float],
    production: Mapping[str, float],
    *,
    tolerance: float = METRIC_TOLERANCE,
) -> GateResult:
    """No headline metric more than ``tolerance`` below production's; missing ones fail."""
    names = [n for n in HEADLINE_METRICS if n in candidate or n in production]
    if not names:
        return GateResult(EVALUATION, False, "neither version logged a headline metric")
    figures, failed = [], False
    for name in names:
        if name not in candidate or name not in production:
            side = "candidate" if name not in candidate else "production"
            figures.append(f"{name} missing on the {side} version")
            failed = True
            continue
        change = candidate[name] - production[name]
        figures.append(f"{name} {candidate[name]:.3f} vs {production[name]:.3f} ({change:+.3f})")
        failed |= change < -tolerance
    return GateResult(EVALUATION, not failed, f"{', '.join(figures)}; tolerance {tolerance}")


def headline_metrics(metrics: Mapping[str, float]) -> dict[str, float]:
    """The headline metrics among ``metrics``, in the order of ``HEADLINE_METRICS``."""
    return {name: metrics[name] for name in HEADLINE_METRICS if name in metrics}


def run_metrics(client: MlflowClient, run_id: str) -> dict[str, float]:
    """The metrics logged by the run that produced a version; empty when it has no run."""
    if not run_id:
        return {}
    try:
        return dict(client.get_run(run_id).data.metrics)
    except MlflowException:
        return {}  # the run was deleted: the evaluation gate reports the metrics missing


def _signature_problems(candidate: Schema, production: Schema) -> list[str]:
    accepted = candidate.input_types_dict()
    problems = []
    for column, production_type in production.input_types_dict().items():
        if column not in production.required_input_names():
            continue
        if column not in accepted:
            problems.append(f"no longer accepts column {column!r}")
        elif not _type_accepts(accepted[column], production_type):
            problems.append(
                f"column {column!r} is {_type_name(accepted[column])}, "
                f"production took {_type_name(production_type)}"
            )
    required_before = set(production.required_input_names())
    added = [c for c in candidate.required_input_names() if c not in required_before]
    if added:
        problems.append(f"requires column(s) production did not: {', '.join(map(str, added))}")
    return problems


def _type_accepts(candidate_type: object, production_type: object) -> bool:
    if _type_name(candidate_type) == _type_name(production_type):
        return True
    return isinstance(production_type, DataType) and candidate_type in _WIDER_TYPES.get(
        production_type, set()
    )


def _type_name(column_type: object) -> str:
    return column_type.name if isinstance(column_type, DataType) else str(column_type)


def _compare_signatures(candidate: ModelVersion, production: ModelVersion) -> GateResult:
    try:
        schemas = _input_schema(candidate), _input_schema(production)
    except Exception as error:  # noqa: BLE001 - an unreadable model fails the gate
        return GateResult(SIGNATURE, False, f"cannot read a signature: {type(error).__name__}")
    return signature_gate(*schemas)


def _input_schema(version: ModelVersion) -> Schema | None:
    signature = mlflow.models.get_model_info(_model_uri(version)).signature
    return None if signature is None else signature.inputs


def _metrics(client: MlflowClient, version: ModelVersion) -> dict[str, float]:
    return run_metrics(client, version.run_id or "")


def _model_uri(version: ModelVersion) -> str:
    return f"models:/{version.name}/{version.version}"
