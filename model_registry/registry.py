"""Registered models, their versions and aliases: list, resolve, move an alias.

``promote`` here only moves an alias. Gated promotion, staging, rollback and the audit trail
go through ``app.services.model_lifecycle`` (``insight models ...``).
"""

from __future__ import annotations

from dataclasses import dataclass

from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

PRODUCTION = "production"
STAGING = "staging"
LATEST = "latest"


class ModelNotFoundError(LookupError):
    """A registered model, version or alias that the registry does not have."""


@dataclass(frozen=True)
class VersionSummary:
    name: str
    version: str
    aliases: tuple[str, ...]
    run_id: str
    created_at_ms: int


def list_versions(client: MlflowClient) -> list[VersionSummary]:
    """Every version of every registered model, newest first within a model."""
    summaries = []
    for model in client.search_registered_models(order_by=["name ASC"]):
        summaries.extend(model_versions(client, model.name))
    return summaries


def model_versions(client: MlflowClient, name: str) -> list[VersionSummary]:
    """Every version of one registered model with its aliases, newest first."""
    aliases_by_version: dict[str, list[str]] = {}
    for alias, version in _aliases(client, name).items():
        aliases_by_version.setdefault(str(version), []).append(alias)
    versions = client.search_model_versions(f"name = '{name}'")
    return [
        _summary(version, tuple(sorted(aliases_by_version.get(str(version.version), ()))))
        for version in sorted(versions, key=lambda v: int(v.version), reverse=True)
    ]


def resolve_version(
    client: MlflowClient, name: str, *, alias: str | None = None, version: str | None = None
) -> ModelVersion:
    """The version asked for by number, or the one behind an alias (production by default)."""
    try:
        if version is not None:
            return client.get_model_version(name, str(version))
        return client.get_model_version_by_alias(name, alias or PRODUCTION)
    except MlflowException as error:
        wanted = f"version {version}" if version is not None else f"alias {alias or PRODUCTION!r}"
        raise ModelNotFoundError(f"model {name!r} has no {wanted}") from error


def alias_version(client: MlflowClient, name: str, alias: str) -> str | None:
    """The version number behind ``alias``, or None when the model has no such alias."""
    version = _aliases(client, name).get(alias)
    return None if version is None else str(version)


def version_number(client: MlflowClient, name: str, version: str) -> str:
    """``version`` (a number, or ``latest``) as an existing version number of ``name``."""
    if version == LATEST:
        return _latest_version(client, name)
    return str(resolve_version(client, name, version=version).version)


def promote(client: MlflowClient, name: str, *, version: str, alias: str = PRODUCTION) -> str:
    """Point ``alias`` of model ``name`` at ``version`` (a number, or ``latest``); return it."""
    version = version_number(client, name, version)
    client.set_registered_model_alias(name, alias, version)
    return version


def _aliases(client: MlflowClient, name: str) -> dict[str, str]:
    try:
        return dict(client.get_registered_model(name).aliases or {})
    except MlflowException as error:
        raise ModelNotFoundError(f"model {name!r} is not registered") from error


def _latest_version(client: MlflowClient, name: str) -> str:
    versions = client.search_model_versions(f"name = '{name}'")
    if not versions:
        raise ModelNotFoundError(f"model {name!r} has no versions")
    return str(max(int(v.version) for v in versions))


def _summary(version: ModelVersion, aliases: tuple[str, ...]) -> VersionSummary:
    return VersionSummary(
        name=version.name,
        version=str(version.version),
        aliases=aliases,
        run_id=version.run_id or "",
        created_at_ms=int(version.creation_timestamp or 0),
    )
