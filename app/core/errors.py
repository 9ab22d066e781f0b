"""Domain errors that carry their HTTP status, rendered as RFC 9457 problem+json.

Nothing below ``app/api`` raises ``HTTPException``: services raise these, and the handlers
here turn them, and FastAPI's own validation errors, into one problem format. No handler
echoes the request's content: errors name the field and the rule that failed.

Under ``/v2`` (the Open Inference Protocol) the same errors are rendered as that protocol's
clients expect: ``{"error": "..."}`` in ``application/json``, and 400 for invalid input.
"""

from __future__ import annotations

import logging
import traceback
from dataclasses import dataclass
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from model_registry.registry import ModelNotFoundError

PROBLEM_JSON = "application/problem+json"
OPEN_INFERENCE_PREFIX = "/v2"
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str


class ProblemError(Exception):
    """An error the client can act on; subclasses fix the status and title."""

    status = 400
    title = "Bad request"

    def __init__(self, detail: str, *, errors: list[FieldError] | None = None):
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or []

    def headers(self) -> dict[str, str]:
        """Headers the answer carries besides the problem (a challenge, a wait)."""
        return {}

    def members(self) -> dict[str, object]:
        """Members of the problem beyond RFC 9457's own (the scope a key lacks)."""
        return {}


class InvalidInputError(ProblemError):
    status = 422
    title = "Invalid input"


class PayloadTooLargeError(ProblemError):
    status = 413
    title = "Request too large"


class UnknownModelError(ProblemError):
    status = 404
    title = "Unknown model"


class NotReadyError(ProblemError):
    status = 503
    title = "Models not loaded"


class UnknownReferenceError(ProblemError):
    """A request names what the service does not hold: a customer, a captured request."""

    status = 404
    title = "Unknown reference"


class CustomerNotFoundError(ProblemError):
    status = 404
    title = "Unknown customer"


class DatabaseUnavailableError(ProblemError):
    """The app database is down, unreachable or too slow: the call may work again soon."""

    status = 503
    title = "Database unavailable"

    def __init__(
        self, detail: str = "the app database is unavailable; try again", *, retry_after_s: int = 2
    ):
        super().__init__(detail)
        self.retry_after_s = max(1, retry_after_s)

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after_s)}


# SQLite calls a mistake in a statement an OperationalError too; these of its result codes
# mean busy or gone: BUSY, LOCKED, NOMEM, IOERR, FULL, CANTOPEN, PROTOCOL.
SQLITE_UNAVAILABLE = frozenset({5, 6, 7, 10, 13, 14, 15})


def is_database_unavailable(error: BaseException) -> bool:
    """Whether a SQLAlchemy error means the database is down or too slow, not a bug: a refused
    or lost connection, a statement or lock timeout, no free pooled connection."""
    sqlite_code = getattr(getattr(error, "orig", None), "sqlite_errorcode", None)
    if sqlite_code is not None:
        return sqlite_code & 0xFF in SQLITE_UNAVAILABLE  # extended codes keep it in the low byte
    if isinstance(error, (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError)):
        return True
    return isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated


class UnauthorizedError(ProblemError):
    """No API key, or one that is not (or no longer) valid."""

    status = 401
    title = "Not authenticated"

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": "Bearer"}


class ForbiddenError(ProblemError):
    """A valid key without the scope the call needs."""

    status = 403
    title = "Missing scope"

    def __init__(self, detail: str, *, missing_scope: str):
        super().__init__(detail)
        self.missing_scope = missing_scope

    def members(self) -> dict[str, object]:
        return {"missing_scope": self.missing_scope}


class RateLimitedError(ProblemError):
    """A key over its request-rate limit."""

    status = 429
    title = "Too many requests"

    def __init__(self, detail: str, *, retry_after_s: int):
        super().__init__(detail)
        self.retry_after_s = max(1, retry_after_s)

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after_s)}


def problem_response(
    request: Request,
    *,
    status: int,
    title: str,
    detail: str,
    errors: list[FieldError] | None = None,
    headers: dict[str, str] | None = None,
    extra: dict[str, object] | None = None,
) -> Response:
    if _open_inference(request.scope):
        return inference_error(status, detail, errors, headers)
    body: dict[str, object] = {
        "type": "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
    }
    route = request.scope.get("route")
    if route is not None:
        # The route's template (/v1/customers/{customer_id}), never the concrete path: a path
        # may hold a customer id, which is personal data.
        body["instance"] = route.path
    if errors:
        body["errors"] = [{"field": e.field, "message": e.message} for e in errors]
    body |= extra or {}
    return Response(
        orjson.dumps(body), status_code=status, media_type=PROBLEM_JSON, headers=headers
    )


def _open_inference(scope: Scope) -> bool:
    path = scope.get("path", "")
    return path == OPEN_INFERENCE_PREFIX or path.startswith(OPEN_INFERENCE_PREFIX + "/")


def inference_error(
    status: int,
    detail: str,
    errors: list[FieldError] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """An error as the Open Inference Protocol words it: one message naming what is wrong."""
    message = "; ".join([detail, *(f"{e.field}: {e.message}" for e in errors or ())])
    return Response(
        orjson.dumps({"error": message}),
        status_code=400 if status == 422 else status,
        media_type="application/json",
        headers=headers,
    )


def install_error_handlers(app: FastAPI) -> None:
    """Render every error the service can meet as problem+json.

    Call it before adding any other middleware, so that ``UnexpectedErrorMiddleware`` sits
    innermost and the others see its 500 as an answer.
    """
    app.add_exception_handler(ProblemError, _problem)
    app.add_exception_handler(ModelNotFoundError, _model_not_found)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(sa_exc.SQLAlchemyError, _database_error)
    app.add_middleware(UnexpectedErrorMiddleware)
    app.add_exception_handler(Exception, _unexpected)  # only for errors in outer middleware


async def _problem(request: Request, error: ProblemError) -> Response:
    return problem_response(
        request,
        status=error.status,
        title=error.title,
        detail=error.detail,
        errors=error.errors,
        headers=error.headers(),
        extra=error.members(),
    )


async def _model_not_found(request: Request, error: ModelNotFoundError) -> Response:
    return problem_response(request, status=404, title="Unknown model", detail=str(error))


async def _validation(request: Request, error: RequestValidationError) -> Response:
    if any(item.get("type") == "json_invalid" for item in error.errors()):
        return _invalid_json(request)
    problems = [_field_error(item, error.body) for item in error.errors()]
    fields = ", ".join(sorted({p.field for p in problems}))
    return problem_response(
        request,
        status=422,
        title="Invalid input",
        detail=f"invalid fields: {fields}",
        errors=problems,
    )


def _invalid_json(request: Request) -> Response:
    return problem_response(
        request,
        status=400,
        title="Invalid JSON",
        detail="the body is not valid UTF-8 JSON",
        errors=[FieldError("body", "not valid UTF-8 JSON")],
    )


def _field_error(item: dict, body: Any) -> FieldError:
    location = [part for part in item.get("loc", ()) if part not in ("body", "query", "path")]
    field, node, after_index = "", body, False
    for part in location:
        if after_index and isinstance(node, dict) and node.get("kind") == part:
            after_index = False  # the tag pydantic puts after an item of a tagged union
            continue
        field += f"[{part}]" if isinstance(part, int) else (f".{part}" if field else str(part))
        node = _child(node, part)
        after_index = isinstance(part, int)
    return FieldError(field or "body", str(item.get("msg", "invalid")))


def _child(node: Any, part: str | int) -> Any:
    if isinstance(node, dict):
        return node.get(part)
    if isinstance(node, list) and isinstance(part, int) and -len(node) <= part < len(node):
        return node[part]
    return None


async def _http(request: Request, error: StarletteHTTPException) -> Response:
    if error.status_code == 400:  # FastAPI's answer to a body it cannot decode (not UTF-8)
        return _invalid_json(request)
    title = {404: "Not found", 405: "Method not allowed"}.get(error.status_code, "HTTP error")
    detail = error.detail if isinstance(error.detail, str) else title
    return problem_response(
        request, status=error.status_code, title=title, detail=detail, headers=error.headers
    )


async def _database_error(request: Request, error: sa_exc.SQLAlchemyError) -> Response:
    if is_database_unavailable(error):  # a route that did not map it: still no 500
        return await _problem(request, DatabaseUnavailableError())
    return await _unexpected(request, error)


async def _unexpected(request: Request, error: Exception) -> Response:
    _log_unexpected(request.scope, error)
    return _internal_error(request)


def _internal_error(request: Request) -> Response:
    return problem_response(
        request, status=500, title="Internal error", detail="the service failed to answer"
    )


def _log_unexpected(scope: Scope, error: BaseException) -> None:
    # The frames, not the message: an exception's message may quote the customer's data (or
    # a statement's parameters). The route template, not the path: a path holds customer ids.
    route = getattr(scope.get("route"), "path", "an unknown route")
    logger.error("unexpected %s on %s\n%s", type(error).__name__, route, _frames(error))


def _frames(error: BaseException | None) -> str:
    """The frames of ``error`` and of the errors it was raised from, oldest first, each headed
    by its type only."""
    chain = []
    while error is not None:
        chain.append(
            f"{type(error).__name__}:\n{''.join(traceback.format_tb(error.__traceback__))}"
        )
        error = error.__cause__ or (None if error.__suppress_context__ else error.__context__)
    return "".join(reversed(chain))


class UnexpectedErrorMiddleware:
    """Answers 500 for an error no handler took, without letting the error out of the app.

    Starlette's own last-resort handler answers, then raises the error on to uvicorn, which
    logs it with its message (customer data, SQL parameters) and closes the keep-alive
    connection without saying so: the client's next request on it fails too.
    """

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        progress = {"started": False, "done": False}

        async def tracked(message: Message) -> None:
            if message["type"] == "http.response.start":
                progress["started"] = True
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                progress["done"] = True
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except Exception as error:
            _log_unexpected(scope, error)
            if progress["done"]:  # answered in full: nothing is lost, keep the connection
                return
            if progress["started"]:  # cut short: only a closed connection tells the client
                raise RuntimeError(f"answer cut short by {type(error).__name__}") from None
            await _internal_error(Request(scope))(scope, receive, send)
