"""Typed dependencies shared by the routes.

They are ``async def`` on purpose: FastAPI runs a plain ``def`` dependency in its thread pool,
which costs more than the whole of a one-text classification.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Header, Request
from sqlalchemy.orm import Session

from app.core.config import Settings
from app.core.errors import FieldError, InvalidInputError
from app.db.session import session_scope
from app.services.model_catalog import ModelCatalog
from app.services.model_snapshot import REQUEST_ALIASES, ServingModels

MODEL_ALIAS_HEADER = "X-Model-Alias"


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


def get_session(request: Request) -> Iterator[Session]:
    """One app-database transaction per request: committed on success, rolled back on error."""
    with session_scope(request.app.state.sessions) as session:
        yield session


SettingsDep = Annotated[Settings, Depends(get_settings)]
SessionDep = Annotated[Session, Depends(get_session)]
CatalogDep = Annotated[ModelCatalog, Depends(get_catalog)]
ServingModelsDep = Annotated[ServingModels, Depends(get_serving_models)]
