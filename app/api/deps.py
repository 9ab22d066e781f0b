"""Typed dependencies shared by the routes.

They are ``async def`` on purpose: FastAPI runs a plain ``def`` dependency in its thread pool,
which costs more than the whole of a one-text classification.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Header, Request
from fastapi.security import HTTPBearer
from sqlalchemy.orm import Session

from app.core.config import Settings
from app.core.errors import (
    DatabaseUnavailableError,
    FieldError,
    InvalidInputError,
    is_database_unavailable,
)
from app.core.health import Component
from app.core.security import ADMIN, Caller, Keyring, presented_secret
from app.db.session import session_scope
from app.services.model_catalog import ModelCatalog
from app.services.model_snapshot import REQUEST_ALIASES, ServingModels
from model_registry.registry import STAGING

MODEL_ALIAS_HEADER = "X-Model-Alias"
STAGING_SCOPE = "staging"  # the scope that may ask for the staging alias


class ScopeGuard(HTTPBearer):
    """Lets a request through when its API key holds ``scope`` (or ``admin``).

    An HTTP bearer scheme, so the OpenAPI document declares it and /docs has an Authorize
    button; ``X-API-Key: <secret>`` works too. Sending ``X-Model-Alias: staging`` also needs
    the ``staging`` scope. The caller is left in ``request.state.caller`` for the capture.
    """

    def __init__(self, scope: str):
        super().__init__(
            scheme_name="ApiKey",
            bearerFormat="isk_...",
            description="An API key from `insight keys create`: `Authorization: Bearer "
            "<secret>` (or `X-API-Key: <secret>`).",
            auto_error=False,
        )
        self.scope = scope

    async def __call__(self, request: Request) -> Caller:  # type: ignore[override]
        keyring: Keyring = request.app.state.keyring
        headers = request.headers
        caller = keyring.authenticate(
            presented_secret(headers.get("authorization"), headers.get("x-api-key"))
        )
        request.state.caller = caller
        caller.require(self.scope)
        if headers.get(MODEL_ALIAS_HEADER) == STAGING:
            caller.require(STAGING_SCOPE)
        return caller


ADMIN_GUARD = ScopeGuard(ADMIN)


def requires(scope: str) -> list:
    """Route dependencies: the caller's key must hold ``scope``."""
    return [Depends(ScopeGuard(scope))]


async def allow_metrics_scrape(request: Request) -> None:
    """/metrics answers loopback callers, anyone when opened by the settings, else admins."""
    settings: Settings = request.app.state.settings
    if settings.metrics_open or _from_loopback(request):
        return
    await ADMIN_GUARD(request)


def _from_loopback(request: Request) -> bool:
    if request.client is None:
        return False
    try:
        return ipaddress.ip_address(request.client.host).is_loopback
    except ValueError:  # "testclient", a unix socket
        return False


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_catalog(request: Request) -> ModelCatalog:
    return request.app.state.catalog


async def get_serving_models(
    request: Request,
    model_alias: Annotated[
        str | None,
        Header(
            alias=MODEL_ALIAS_HEADER,
            description="`staging` or `production`: which registry alias answers. For "
            "`staging`, a model with no staged version answers from production; the answer's "
            "`models` say which. Absent: the deployment's alias (INSIGHT_MODEL_ALIAS).",
            examples=["staging"],
            json_schema_extra={"enum": list(REQUEST_ALIASES)},
        ),
    ] = None,
) -> ServingModels:
    """The models this request answers from: one snapshot, taken once, used to the end."""
    catalog: ModelCatalog = request.app.state.catalog
    if model_alias is None:
        return catalog.serving(catalog.alias)
    if model_alias not in REQUEST_ALIASES:
        rule = f"must be one of {', '.join(REQUEST_ALIASES)}"
        raise InvalidInputError(
            f"header {MODEL_ALIAS_HEADER} {rule}", errors=[FieldError(MODEL_ALIAS_HEADER, rule)]
        )
    return catalog.serving(model_alias)


def guard_app_database(request: Request) -> Iterator[None]:
    """The app database's failures answer 503 with Retry-After, never 500; while it is down
    (a request or the worker's probe found it so) a call answers 503 at once, until the
    probe finds it back (within ``INSIGHT_SYNC_INTERVAL_SECONDS``)."""
    database: Component = request.app.state.app_database
    if database.is_down:
        raise DatabaseUnavailableError()
    try:
        yield
    except Exception as error:
        if not is_database_unavailable(error):
            raise
        database.down(error)
        raise DatabaseUnavailableError() from None


# Scope "function": it ends, and its failure is answered, before the answer is sent.
DatabaseGuard = Depends(guard_app_database, scope="function")


def get_session(request: Request, _: Annotated[None, DatabaseGuard]) -> Iterator[Session]:
    """One app-database transaction per request: committed on success, rolled back on error."""
    with session_scope(request.app.state.sessions) as session:
        yield session


SettingsDep = Annotated[Settings, Depends(get_settings)]
AdminDep = Annotated[Caller, Depends(ADMIN_GUARD)]
# Committed before the answer is sent, so a failed commit is answered as such (503), not
# after a 200 (the default scope, "request", ends once the answer is out).
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
CatalogDep = Annotated[ModelCatalog, Depends(get_catalog)]
ServingModelsDep = Annotated[ServingModels, Depends(get_serving_models)]
