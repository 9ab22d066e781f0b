"""The models the service answers from, following the registry's aliases.

For every served model the catalog holds the version behind ``production`` and, when set,
``staging``. Everything a request or a health check reads is one immutable ``ModelSnapshot``
(see model_snapshot.py); a swap builds the new version completely (load and smoke test)
before it replaces the snapshot reference. One lock keeps checks one at a time, so the poller
and the admin endpoint never load the same thing twice.
"""

from __future__ import annotations

import gc
import logging
import threading
from collections.abc import Sequence
from datetime import datetime

from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import RESOURCE_DOES_NOT_EXIST, ErrorCode
from mlflow.tracking import MlflowClient

from app.core.health import Component
from app.core.metrics import MODEL_LOAD_FAILURES, MODEL_SWAPS
from app.services.model_snapshot import (
    AliasCheck,
    LoadFailure,
    ModelSnapshot,
    ServingModels,
    build_snapshot,
    now,
)
from app.services.served_models import ServedModel, SmokeTestError, load_served_model
from model_registry.registry import PRODUCTION, STAGING, resolve_version
from model_registry.store import MlflowStore

logger = logging.getLogger(__name__)
REGISTRY_UNREACHABLE = "registry not reachable: "


class ModelCatalog:
    """Loads the versions behind the aliases and swaps in new ones when an alias moves."""

    def __init__(
        self,
        *,
        store: MlflowStore,
        names: Sequence[str],
        alias: str = PRODUCTION,
        load_staging: bool = True,
    ):
        self.store = store
        self.names = tuple(names)
        self.alias = alias
        self.aliases = (PRODUCTION, STAGING) if load_staging or alias == STAGING else (PRODUCTION,)
        self._loaded: dict[str, dict[str, ServedModel]] = {a: {} for a in self.aliases}
        self._failures: dict[tuple[str, str], LoadFailure] = {}
        self._loading = True
        self._checked_at: datetime | None = None
        self._lock = threading.Lock()
        self._closed = threading.Event()
        # For /readyz: the models (loading, ready, or one without a version) and the registry
        # (reached at the last check or not), each with since when.
        self.models_health = Component("models", back_note="every model has a version")
        self.registry_health = Component("registry", down_note="the loaded versions keep serving")
        self.snapshot = self._build_snapshot()

    def serving(self, alias: str) -> ServingModels:
        """The models answering a request for ``alias`` (production or staging), right now."""
        return self.snapshot.serving[alias]

    def load(self) -> list[AliasCheck]:
        """The first check: load everything, then say the catalog is no longer loading."""
        try:
            checks = self.refresh()
        finally:
            with self._lock:
                self._loading = False
                self.snapshot = self._build_snapshot()
        # Loaded models and MLflow's imports leave some 350,000 long-lived objects; a full
        # collection walks them all (150 ms measured here), stalling every request in flight.
        gc.freeze()
        logger.info("models loaded: %s", _summary(checks))
        return checks

    def refresh(self, *, retry_failed: bool = False) -> list[AliasCheck]:
        """Check every model's aliases in the registry; swap in versions that moved.

        A version that failed before is tried again only when ``retry_failed`` (the admin
        refresh) or once its alias has moved on, never on every poll.
        """
        with self._lock:
            try:
                client = self.store.activate()
            except Exception as error:
                self.registry_health.down(error)
                raise
            checks = []
            for name in self.names:
                if self._closed.is_set():  # shutting down: load nothing more
                    break
                checks += self._check_model(client, name, retry_failed=retry_failed)
            self._checked_at = now()
            self._note_registry(checks)
            self.snapshot = self._build_snapshot()
        if not self._loading and any(c.outcome in ("swapped", "removed") for c in checks):
            _freeze_new_versions()
        return [c for c in checks if c.version or c.previous_version or c.error]

    def close(self) -> None:
        """Stop a check under way after the model it is loading; make no more checks."""
        self._closed.set()

    def _check_model(
        self, client: MlflowClient, name: str, *, retry_failed: bool
    ) -> list[AliasCheck]:
        try:
            registered = _registered_aliases(client, name)
        except Exception as error:  # the registry unreachable: keep serving what we have
            problem = f"{REGISTRY_UNREACHABLE}{type(error).__name__}"
            return [
                self._fail(name, a, None, self._serving(name, a), problem) for a in self.aliases
            ]
        return [
            self._check(client, name, alias, registered.get(alias), retry_failed=retry_failed)
            for alias in self.aliases
        ]

    def _serving(self, name: str, alias: str) -> str | None:
        current = self._loaded[alias].get(name)
        return current.version if current else None

    def _check(
        self, client: MlflowClient, name: str, alias: str, wanted: str | None, *, retry_failed: bool
    ) -> AliasCheck:
        serving = self._serving(name, alias)
        if wanted is None:
            return self._alias_unset(name, alias, serving)
        if wanted == serving:
            self._failures.pop((name, alias), None)
            return AliasCheck(name, alias, "unchanged", serving)
        failed = self._failures.get((name, alias))
        if failed and failed.version == wanted and not retry_failed:
            return AliasCheck(name, alias, "failed", wanted, serving, failed.error)
        return self._swap_in(client, name, alias, wanted, serving)

    def _alias_unset(self, name: str, alias: str, serving: str | None) -> AliasCheck:
        if alias == PRODUCTION:  # never take production down: keep what serves, say so
            kept = f"; still serving version {serving}" if serving else ""
            return self._fail(name, alias, None, serving, f"no {alias!r} alias{kept}")
        self._failures.pop((name, alias), None)
        if serving is None:
            return AliasCheck(name, alias, "unchanged", None)
        del self._loaded[alias][name]
        logger.info("%s@%s removed: the alias is no longer set", name, alias)
        return AliasCheck(name, alias, "removed", None, serving)

    def _swap_in(
        self, client: MlflowClient, name: str, alias: str, wanted: str, serving: str | None
    ) -> AliasCheck:
        try:
            version = resolve_version(client, name, version=wanted)
            model = load_served_model(client, version, alias)
        except Exception as error:  # a broken version must not stop the others, nor serve
            MODEL_LOAD_FAILURES.labels(model=name, alias=alias).inc()
            return self._fail(name, alias, wanted, serving, _load_error(error))
        self._loaded[alias][name] = model
        self._failures.pop((name, alias), None)
        self.snapshot = self._build_snapshot()
        if not self._loading:
            MODEL_SWAPS.labels(model=name, alias=alias).inc()
            logger.info("%s@%s swapped in: version %s (was %s)", name, alias, wanted, serving)
        return AliasCheck(name, alias, "swapped", wanted, serving)

    def _fail(
        self, name: str, alias: str, version: str | None, serving: str | None, error: str
    ) -> AliasCheck:
        known = self._failures.get((name, alias))
        if known is None or (known.version, known.error) != (version, error):  # say it once
            logger.error("%s@%s version %s not swapped in: %s", name, alias, version, error)
            self._failures[(name, alias)] = LoadFailure(name, alias, version, error, now())
        return AliasCheck(name, alias, "failed", version, serving, error)

    def _note_registry(self, checks: list[AliasCheck]) -> None:
        unreachable = [c.error for c in checks if (c.error or "").startswith(REGISTRY_UNREACHABLE)]
        if unreachable:
            self.registry_health.down(unreachable[0].removeprefix(REGISTRY_UNREACHABLE))
        elif checks:
            self.registry_health.ready()

    def _build_snapshot(self) -> ModelSnapshot:
        snapshot = build_snapshot(
            alias=self.alias,
            names=self.names,
            loaded=self._loaded,
            failures=tuple(self._failures.values()),
            loading=self._loading,
            checked_at=self._checked_at,
        )
        unavailable = snapshot.serving[self.alias].unavailable
        if snapshot.loading:
            self.models_health.loading()
        elif unavailable:
            self.models_health.down(f"no version to serve: {', '.join(sorted(unavailable))}")
        else:
            self.models_health.ready()
        return snapshot


def _registered_aliases(client: MlflowClient, name: str) -> dict[str, str]:
    """Alias -> version number of a registered model; empty when it is not registered."""
    try:
        return {a: str(v) for a, v in (client.get_registered_model(name).aliases or {}).items()}
    except MlflowException as error:
        if error.error_code == ErrorCode.Name(RESOURCE_DOES_NOT_EXIST):
            return {}
        raise


def _load_error(error: Exception) -> str:
    """What went wrong. A smoke test's message is our own: the errors met while answering the
    example never reach it, as their messages may quote the example's (customer) data."""
    if isinstance(error, SmokeTestError):
        return f"smoke test failed: {error}"
    return f"failed to load: {type(error).__name__}: {str(error)[:200]}"


def _freeze_new_versions() -> None:
    # Like the first load's: keep full collections from walking the new version's objects.
    # The version swapped out needs no collection: reference counting frees it (checked with
    # a weakref), while unfreezing for a full collection stalled requests ~0.5 s per swap.
    gc.freeze()


def _summary(checks: list[AliasCheck]) -> str:
    return ", ".join(f"{c.model}@{c.alias}: {c.outcome} {c.version or ''}".strip() for c in checks)
