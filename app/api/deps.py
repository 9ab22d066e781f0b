"""Typed dependencies shared by the routes.

They are ``async def`` on purpose: FastAPI runs a plain ``def`` dependency in its thread pool,
which costs more than the whole of a one-text classification.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from app.core.config import Settings
from app.db.session import session_scope
from app.services.served_models import ModelCatalog


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_catalog(request: Request) -> ModelCatalog:
    return request.app.state.catalog


def get_session(request: Request) -> Iterator[Session]:
    """One app-database transaction per request: committed on success, rolled back on error."""
    with session_scope(request.app.state.sessions) as session:
        yield session


SettingsDep = Annotated[Settings, Depends(get_settings)]
SessionDep = Annotated[Session, Depends(get_session)]
CatalogDep = Annotated[ModelCatalog, Depends(get_catalog)]
