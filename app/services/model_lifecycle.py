"""Stage, promote (through the gates) and roll back registered models, with an audit row for
every alias move in the app database (``model_events``).

Only moves are recorded: a promotion refused by its gates changes nothing and leaves no row,
so the trail reads as the history of what each alias pointed at. The refusal is reported to
the caller (``PromotionRefused``) with every gate's figures.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from mlflow.tracking import MlflowClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.db.models import ModelEvent
from app.db.session import session_scope
from model_registry.gates import GateResult, check_promotion, headline_metrics, run_metrics
from model_registry.registry import (
    PRODUCTION,
    STAGING,
    VersionSummary,
    alias_version,
    model_versions,
    promote,
    resolve_version,
    version_number,
)

STAGE, PROMOTE, ROLLBACK = "stage", "promote", "rollback"


class LifecycleError(RuntimeError):
    """A stage, promote or rollback that cannot be done as asked; nothing was changed."""


class PromotionRefused(LifecycleError):
    """A promotion stopped by failed gates; production is unchanged."""

    def __init__(self, name: str, version: str, gates: Sequence[GateResult]) -> None:
        self.gates = list(gates)
        failed = "; ".join(f"{g.name}: {g.detail}" for g in self.gates if not g.passed)
        super().__init__(
            f"{name} version {version} was not promoted, a gate failed: {failed}. "
            "Production is unchanged; --force --reason TEXT overrides."
        )


@dataclass(frozen=True)
class Promotion:
    """What a promotion did: the audit row (None when the version already served) and gates."""

    name: str
    version: str
    event: ModelEvent | None
    gates: list[GateResult]


def stage_version(
    *,
    client: MlflowClient,
    sessions: sessionmaker[Session],
    name: str,
    version: str,
    actor: str,
    reason: str | None = None,
) -> ModelEvent:
    """Point ``staging`` at ``version`` (a number or ``latest``), and record it."""
    version = version_number(client, name, version)
    before = alias_version(client, name, STAGING)
    return _move_alias(
        client,
        sessions,
        ModelEvent(
            model_name=name,
            action=STAGE,
            alias=STAGING,
            from_version=before,
            to_version=version,
            actor=actor,
            reason=reason,
        ),
    )


def promote_version(
    *,
    client: MlflowClient,
    sessions: sessionmaker[Session],
    name: str,
    version: str | None,
    actor: str,
    force: bool = False,
    reason: str | None = None,
) -> Promotion:
    """Point ``production`` at ``version`` (default: the staged one) if its gates pass, or
    despite failed gates with ``force`` and a reason; record the move."""
    if force and not (reason and reason.strip()):
        raise LifecycleError("--force needs --reason: say why the gates are overridden")
    version = _candidate(client, name, version)
    current = alias_version(client, name, PRODUCTION)
    if current == version:
        return Promotion(name, version, None, [])
    production = None if current is None else resolve_version(client, name, version=current)
    gates = check_promotion(client, resolve_version(client, name, version=version), production)
    failed = [g for g in gates if not g.passed]
    if failed and not force:
        raise PromotionRefused(name, version, gates)
    event = _move_alias(
        client,
        sessions,
        ModelEvent(
            model_name=name,
            action=PROMOTE,
            alias=PRODUCTION,
            from_version=current,
            to_version=version,
            actor=actor,
            reason=reason,
            forced=bool(failed),
            gates=[g.as_dict() for g in gates],
        ),
    )
    return Promotion(name, version, event, gates)


def rollback_production(
    *,
    client: MlflowClient,
    sessions: sessionmaker[Session],
    name: str,
    actor: str,
    reason: str | None = None,
) -> ModelEvent:
    """Return ``production`` to the version it held before the current one, per the trail."""
    current = alias_version(client, name, PRODUCTION)
    held = production_versions(model_history(sessions, name))
    if current is None:
        raise LifecycleError(f"{name} has no production version to roll back")
    if held and held[-1] != current:
        raise LifecycleError(
            f"{name}@production is version {current}, but the audit trail last put version "
            f"{held[-1]} there (the alias was moved outside `insight models`): promote the "
            "version you want explicitly"
        )
    if len(held) < 2:
        raise LifecycleError(f"{name}: no earlier production version is recorded to roll back to")
    target = held[-2]
    resolve_version(client, name, version=target)
    return _move_alias(
        client,
        sessions,
        ModelEvent(
            model_name=name,
            action=ROLLBACK,
            alias=PRODUCTION,
            from_version=current,
            to_version=target,
            actor=actor,
            reason=reason,
        ),
    )


@dataclass(frozen=True)
class ModelDescription:
    """A model's versions with their aliases and headline metrics, and its audit trail."""

    name: str
    versions: list[tuple[VersionSummary, dict[str, float]]]
    history: list[ModelEvent]

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data, for ``describe --json``."""
        return {
            "name": self.name,
            "versions": [
                {**asdict(summary), "metrics": metrics} for summary, metrics in self.versions
            ],
            "history": [_event_dict(event) for event in self.history],
        }


def describe_model(
    *, client: MlflowClient, sessions: sessionmaker[Session], name: str
) -> ModelDescription:
    """Versions newest first with their headline metrics; the audit trail oldest first."""
    versions = [
        (summary, headline_metrics(run_metrics(client, summary.run_id)))
        for summary in model_versions(client, name)
    ]
    return ModelDescription(name, versions, model_history(sessions, name))


def model_history(sessions: sessionmaker[Session], name: str) -> list[ModelEvent]:
    """Every recorded alias move of model ``name``, oldest first."""
    with session_scope(sessions) as session:
        query = select(ModelEvent).where(ModelEvent.model_name == name)
        return list(session.scalars(query.order_by(ModelEvent.id)))


def production_versions(events: Sequence[ModelEvent]) -> list[str]:
    """The versions production has held, oldest first, with rolled-back ones taken off.

    A promotion stacks the version it replaced (unless that is already on top) and its own;
    a rollback takes the top off. The last item is production now.
    """
    held: list[str] = []
    for event in events:
        if event.alias != PRODUCTION:
            continue
        if event.action == PROMOTE:
            if event.from_version is not None and held[-1:] != [event.from_version]:
                held.append(event.from_version)
            held.append(event.to_version)
        elif event.action == ROLLBACK:
            if held:
                held.pop()
            if not held or held[-1] != event.to_version:
                held.append(event.to_version)
    return held


def _event_dict(event: ModelEvent) -> dict[str, Any]:
    return {
        "at": event.at.isoformat(),
        "action": event.action,
        "alias": event.alias,
        "from_version": event.from_version,
        "to_version": event.to_version,
        "actor": event.actor,
        "reason": event.reason,
        "forced": event.forced,
        "gates": event.gates,
    }


def _candidate(client: MlflowClient, name: str, version: str | None) -> str:
    if version is not None:
        return version_number(client, name, version)
    staged = alias_version(client, name, STAGING)
    if staged is None:
        raise LifecycleError(
            f"{name} has no staged version: stage one with `insight models stage {name} VERSION` "
            "or give --version"
        )
    return staged


def _move_alias(
    client: MlflowClient, sessions: sessionmaker[Session], event: ModelEvent
) -> ModelEvent:
    """Write the audit row and move the alias in one transaction: no move without its row."""
    with session_scope(sessions) as session:
        session.add(event)
        session.flush()
        promote(client, event.model_name, version=event.to_version, alias=event.alias)
    return event
