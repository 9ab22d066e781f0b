"""Typed dependencies shared by the routes.

They are ``async def`` on purpose: FastAPI runs a plain ``def`` dependency in its thread pool,
which costs more than the whole of a one-text classification.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from app.core.config import Settings
from app.services.served_models import ModelCatalog


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_catalog(request: Request) -> ModelCatalog:
    return request.app.state.catalog


SettingsDep = Annotated[Settings, Depends(get_settings)]
CatalogDep = Annotated[ModelCatalog, Depends(get_catalog)]
