"""What the service has loaded."""

from __future__ import annotations

from fastapi import APIRouter

from app.api.deps import CatalogDep
from app.api.schemas import LoadedModel, ModelsResponse
from app.core.errors import UnknownModelError
from app.services.served_models import ServedModel

router = APIRouter(prefix="/v1/models", tags=["models"])


@router.get("", response_model=ModelsResponse)
def list_models(catalog: CatalogDep) -> ModelsResponse:
    """The loaded model versions, the alias they came from, and what failed to load."""
    return ModelsResponse(
        alias=catalog.alias,
        models=[_loaded(model) for model in catalog.models.values()],
        failures=dict(catalog.failures),
    )


@router.get(
    "/{name}", response_model=LoadedModel, responses={404: {"description": "Unknown model"}}
)
def get_model(name: str, catalog: CatalogDep) -> LoadedModel:
    """One loaded model by its registered name."""
    model = catalog.get(name)
    if model is None:
        raise UnknownModelError(f"no model named {name!r} is loaded")
    return _loaded(model)


def _loaded(model: ServedModel) -> LoadedModel:
    return LoadedModel(
        name=model.name,
        version=model.version,
        alias=model.alias,
        run_id=model.run_id,
        loaded_at=model.loaded_at.isoformat(),
        outputs=model.outputs,
    )
