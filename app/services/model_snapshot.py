"""What a request and a health check read: one immutable snapshot of the loaded models.

A request takes the snapshot once and answers from it to the end; the catalog builds a new one
on every change and replaces the reference, so no request sees a swap half-done.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Literal

from app.services.served_models import ServedCustomerModel, ServedModel, joint_scorer
from model_registry.registry import PRODUCTION, STAGING
from training.customers.scorer import CustomerScorer

REQUEST_ALIASES = (PRODUCTION, STAGING)
Outcome = Literal["swapped", "removed", "failed", "unchanged"]


def now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class LoadFailure:
    """A model's alias that has no serving version it should have: which, why and when."""

    model: str
    alias: str
    version: str | None  # None: the registry has no version to load behind the alias
    error: str
    at: datetime


@dataclass(frozen=True)
class AliasCheck:
    """What one check of one model's alias found, and did."""

    model: str
    alias: str
    outcome: Outcome
    version: str | None  # serving after the check (or, when failed, the version that failed)
    previous_version: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class ServingModels:
    """The models that answer a request asking for ``alias``, all from one snapshot.

    For ``staging`` each model falls back to its production version when it has no staged
    one; each ``ServedModel`` names the alias it really came from.
    """

    alias: str
    models: Mapping[str, ServedModel]
    unavailable: Mapping[str, str]  # model name -> why it cannot answer
    joint: CustomerScorer | None = None  # every customer model's trees, scored in one pass

    def get(self, name: str) -> ServedModel | None:
        return self.models.get(name)

    def reason(self, name: str) -> str:
        return self.unavailable.get(name, "not served here")


@dataclass(frozen=True)
class ModelSnapshot:
    """Every loaded version and every failure at one moment; replaced whole, never changed."""

    alias: str  # the deployment's: what a request without X-Model-Alias asks for
    loaded: Mapping[str, Mapping[str, ServedModel]]  # alias -> model name -> version
    failures: tuple[LoadFailure, ...]
    loading: bool
    checked_at: datetime | None
    serving: Mapping[str, ServingModels]  # request alias -> the models that answer it

    @property
    def ready(self) -> bool:
        """Loaded, and every served model has a version for the deployment's alias."""
        return not self.loading and not self.serving[self.alias].unavailable


def build_snapshot(
    *,
    alias: str,
    names: Sequence[str],
    loaded: Mapping[str, Mapping[str, ServedModel]],
    failures: tuple[LoadFailure, ...],
    loading: bool,
    checked_at: datetime | None,
) -> ModelSnapshot:
    """A frozen copy of the catalog's state, with the models each request alias answers from."""
    frozen = MappingProxyType({a: MappingProxyType(dict(m)) for a, m in loaded.items()})
    serving = {
        asked: _serving_models(asked, names, frozen, failures, loading) for asked in REQUEST_ALIASES
    }
    return ModelSnapshot(alias, frozen, failures, loading, checked_at, MappingProxyType(serving))


def _serving_models(
    alias: str,
    names: Sequence[str],
    loaded: Mapping[str, Mapping[str, ServedModel]],
    failures: tuple[LoadFailure, ...],
    loading: bool,
) -> ServingModels:
    tried = [alias, PRODUCTION] if alias == STAGING else [alias]
    models, unavailable = {}, {}
    for name in names:
        found = [loaded[a][name] for a in tried if name in loaded.get(a, {})]
        if found:
            models[name] = found[0]
        else:
            errors = [f.error for f in failures if f.model == name and f.alias == PRODUCTION]
            unavailable[name] = (
                errors[0] if errors else "still loading" if loading else "not loaded"
            )
    # While the first load runs, a snapshot follows every model loaded: a joint scorer for each
    # partial set would be built only to be thrown away. Requests meanwhile score model by model.
    customers = [m for m in models.values() if isinstance(m, ServedCustomerModel)]
    joint = None if loading else joint_scorer(customers)
    return ServingModels(alias, MappingProxyType(models), MappingProxyType(unavailable), joint)
