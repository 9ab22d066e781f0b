"""What the service has loaded, from which alias, since when."""

from __future__ import annotations

from fastapi import APIRouter

from app.api.deps import CatalogDep, ServingModelsDep, requires
from app.api.openapi import problem
from app.api.schemas import LoadedModel, LoadFailureOut, ModelsResponse
from app.core.errors import UnknownModelError
from app.services.served_models import ServedModel

router = APIRouter(prefix="/v1/models", tags=["models"], dependencies=requires("models:read"))


@router.get("", response_model=ModelsResponse)
def list_models(catalog: CatalogDep) -> ModelsResponse:
    """Every loaded version (production and staging), since when, and what failed to load."""
    snapshot = catalog.snapshot
    return ModelsResponse(
        alias=snapshot.alias,
        models=[loaded_model(m) for by_name in snapshot.loaded.values() for m in by_name.values()],
        failures=[LoadFailureOut.model_validate(f) for f in snapshot.failures],
        checked_at=snapshot.checked_at,
    )


@router.get("/{name}", response_model=LoadedModel, responses={404: problem("Unknown model")})
def get_model(name: str, serving: ServingModelsDep) -> LoadedModel:
    """The version of one model that answers this request (mind X-Model-Alias)."""
    model = serving.get(name)
    if model is None:
        raise UnknownModelError(f"no model named {name!r} is loaded")
    return loaded_model(model)


def loaded_model(model: ServedModel) -> LoadedModel:
    return LoadedModel(
        name=model.name,
        version=model.version,
        alias=model.alias,
        run_id=model.run_id,
        loaded_at=model.loaded_at.isoformat(),
        outputs=model.outputs,
    )
