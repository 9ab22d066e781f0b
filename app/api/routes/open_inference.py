"""The Open Inference Protocol's REST endpoints (``/v2``), beside our own ``/v1``.

The same keys and scopes as ``/v1`` (``classify`` for the text models, ``score`` for the
customer models, ``models:read`` for metadata; the health probes and the server's metadata need
none), the same capture, body limits and metrics. Errors are the protocol's
``{"error": "..."}`` (app/core/errors.py). The protocol's own specification describes these
routes, so they stay out of our OpenAPI document; docs/open-inference.md lists our models'
tensors.
"""

from __future__ import annotations

from importlib.metadata import version
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import ValidationError

from app.api.deps import STAGING_SCOPE, CatalogDep, ScopeGuard, SettingsDep, requires
from app.api.scoring_threads import run_scoring
from app.core.errors import NotReadyError, UnknownModelError
from app.core.request_metrics import answered_by
from app.core.security import Caller
from app.services.model_catalog import ModelCatalog
from app.services.open_inference import (
    BINARY_REFUSAL,
    InferenceRequest,
    InvalidTensorError,
    customer_outputs,
    infer_records,
    infer_texts,
    model_metadata,
    refuse_binary_extension,
    requested,
    text_outputs,
)
from app.services.served_models import TEXT_MODELS, ServedCustomerModel, ServedModel
from model_registry.registry import PRODUCTION, STAGING

SERVER = {"name": "customer-insight", "version": version("customer-insight"), "extensions": []}
BINARY_HEADER = "Inference-Header-Content-Length"
router = APIRouter(prefix="/v2", tags=["open-inference-protocol"], include_in_schema=False)


def _json(body: Any, status: int = 200) -> Response:
    body = orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY)
    return Response(body, status_code=status, media_type="application/json")


@router.get("")
async def server_metadata() -> Response:
    return _json(SERVER)


@router.get("/health/live")
async def server_live() -> Response:
    return _json({"live": True})


@router.get("/health/ready")
async def server_ready(catalog: CatalogDep) -> Response:
    """Ready once every served model has a version for the deployment's alias (as /readyz)."""
    ready = catalog.snapshot.ready
    return _json({"ready": ready}, 200 if ready else 503)


@router.get("/models/{model_name}/ready")
@router.get("/models/{model_name}/versions/{model_version}/ready")
async def model_ready(
    catalog: CatalogDep, model_name: str, model_version: str | None = None
) -> Response:
    try:
        served = _served(catalog, model_name, model_version)
    except NotReadyError:
        return _json({"name": model_name, "ready": False}, 503)
    return _json({"name": served.name, "ready": True})


@router.get("/models/{model_name}", dependencies=requires("models:read"))
@router.get("/models/{model_name}/versions/{model_version}", dependencies=requires("models:read"))
async def model_metadata_route(
    catalog: CatalogDep, request: Request, model_name: str, model_version: str | None = None
) -> Response:
    served = _served(catalog, model_name, model_version, request.state.caller)
    return _json(model_metadata(served, _loaded_versions(catalog, model_name)))


async def _infer_guard(request: Request, model_name: str) -> Caller:
    """The scope the model's /v1 endpoint needs: classify for texts, score for customers."""
    return await _GUARDS["classify" if model_name in TEXT_MODELS else "score"](request)


_GUARDS = {scope: ScopeGuard(scope) for scope in ("classify", "score")}
InferCaller = Annotated[Caller, Depends(_infer_guard)]


async def _inference_request(request: Request) -> InferenceRequest:
    """The body as JSON whatever its Content-Type: tritonclient sends none."""
    if BINARY_HEADER in request.headers:  # JSON, then tensors in binary
        raise InvalidTensorError(BINARY_REFUSAL.format(asked=f"the {BINARY_HEADER} header"))
    try:
        return InferenceRequest.model_validate_json(await request.body())
    except ValidationError as error:
        raise RequestValidationError(error.errors(include_url=False)) from None


@router.post("/models/{model_name}/infer")
@router.post("/models/{model_name}/versions/{model_version}/infer")
async def infer(
    caller: InferCaller,  # first: a caller without a key gets 401 before its body is read
    body: Annotated[InferenceRequest, Depends(_inference_request)],
    catalog: CatalogDep,
    settings: SettingsDep,
    request: Request,
    model_name: str,
    model_version: str | None = None,
) -> Response:
    """The model's answers as output tensors; the request's ``id`` echoed (or the
    X-Request-ID answered with)."""
    refuse_binary_extension(body)
    served = _served(catalog, model_name, model_version, caller)
    if isinstance(served, ServedCustomerModel):
        records = infer_records(served, body, max_customers=settings.max_customers_per_request)
        # the deployment's joint scorer holds its own versions' trees: not a staged version's
        serving = catalog.serving(catalog.alias)
        joint = serving.joint if serving.get(served.name) is served else None
        outputs = await run_scoring(request, len(records), customer_outputs, served, records, joint)
    else:
        texts = infer_texts(
            served,
            body,
            max_texts=settings.max_texts_per_request,
            max_chars=settings.max_text_chars,
        )
        outputs = await run_scoring(request, len(texts), text_outputs, served, texts)
    answered_by(request, [served.ref()])
    return _json(
        {
            "model_name": served.name,
            "model_version": served.version,
            "id": body.id if body.id is not None else request.state.request_id,
            "parameters": {"alias": served.alias},
            "outputs": [tensor.as_json() for tensor in requested(outputs, body)],
        }
    )


def _served(
    catalog: ModelCatalog, name: str, version: str | None, caller: Caller | None = None
) -> ServedModel:
    """The loaded version a path names: ``version``, among those loaded (a staged one needs
    the ``staging`` scope), or without it the one behind the deployment's alias."""
    if name not in catalog.names:
        raise UnknownModelError(f"no model named {name!r} is served here")
    if version is None:
        serving = catalog.serving(catalog.alias)
        served = serving.get(name)
        if served is None:
            raise NotReadyError(f"{name} is not available: {serving.reason(name)}")
        return served
    loaded = catalog.snapshot.loaded
    for alias in (PRODUCTION, STAGING):
        served = loaded.get(alias, {}).get(name)
        if served is not None and served.version == version:
            if alias == STAGING and caller is not None:
                caller.require(STAGING_SCOPE)
            return served
    versions = _loaded_versions(catalog, name)
    raise UnknownModelError(
        f"{name} has no loaded version {version!r}; loaded: {', '.join(versions) or 'none'}"
    )


def _loaded_versions(catalog: ModelCatalog, name: str) -> list[str]:
    """The versions of ``name`` a path may name: production's, then staging's."""
    loaded = catalog.snapshot.loaded
    found = [loaded[a][name].version for a in (PRODUCTION, STAGING) if name in loaded.get(a, {})]
    return list(dict.fromkeys(found))
