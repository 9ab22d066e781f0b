"""Re-sending captured requests: to the app built in this process, or to a running deployment.

Both targets are an ``httpx.AsyncClient``; only how it reaches the service differs. Every
request carries ``X-Model-Alias: staging``, so the staged version of each model answers (or
production's, for a model with no staged version: the answer's model refs say which).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from app.core.config import Settings
from app.replay.selection import METHODS, Captured

STAGING_HEADERS = {"X-Model-Alias": "staging"}
REQUEST_TIMEOUT_S = 30.0


class TargetError(RuntimeError):
    """The service to replay against cannot be reached or never finishes loading."""


@dataclass(frozen=True)
class Replayed:
    """The answer to one re-sent request: status (None when it never arrived), body, latency."""

    status: int | None
    answer: Any
    latency_ms: float
    problem: str | None = None  # for a failure: the problem's title, or the transport error

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def failure_key(self) -> str:
        return str(self.status) if self.status is not None else (self.problem or "no answer")


def in_process_settings(settings: Settings) -> Settings:
    """The settings of the in-process service: the same stores, on the ``staging`` alias.

    A deployment on ``staging`` answers as if every request asked for it, falling back to
    production for a model with no staged version. It captures nothing (replays are not
    traffic) and does not poll the registry: one set of versions answers the whole replay.
    """
    update = {
        "model_alias": "staging",
        "capture_enabled": False,
        "reload_interval_seconds": 0,
        "require_api_keys": False,  # its only caller is this replay, in this process
    }
    return settings.model_copy(update=update)


@asynccontextmanager
async def in_process_service(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the app built here, its lifespan run (ASGITransport does not run it)."""
    from app.main import create_app

    app = create_app(in_process_settings(settings))
    async with app.router.lifespan_context(app):
        # A 500 stays a 500 answer to count, rather than the app's exception raised here.
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://in-process", timeout=REQUEST_TIMEOUT_S
        ) as client:
            yield client


@asynccontextmanager
async def remote_service(base_url: str, api_key: str | None) -> AsyncIterator[httpx.AsyncClient]:
    """A client of a running deployment (a staging environment) at ``base_url``, sending
    ``api_key`` (which needs the scopes of the endpoints replayed, and ``staging``)."""
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    async with httpx.AsyncClient(
        base_url=base_url, headers=headers, timeout=REQUEST_TIMEOUT_S
    ) as client:
        yield client


async def wait_until_loaded(
    client: httpx.AsyncClient, *, timeout_s: float, unreachable_s: float
) -> dict[str, Any]:
    """Poll ``/readyz`` until the service is ready or done loading; return what it said.

    Done loading is enough: a model that failed to load makes the replay's requests fail,
    and those are counted and listed, not hidden. A service that does not answer at all for
    ``unreachable_s`` is given up on sooner (a wrong --base-url should not wait long).
    """
    url = client.base_url.join("/readyz")
    started = time.monotonic()
    answered = False
    while True:
        try:
            response = await client.get("/readyz")
            answered = True
            body = _json(response) or {}
            if response.status_code == 200 or body.get("loading") is False:
                return body
            last = f"status {response.status_code}"
        except httpx.TransportError as error:
            last = type(error).__name__
        waited = time.monotonic() - started
        if waited > timeout_s or (not answered and waited > unreachable_s):
            raise TargetError(f"{url} did not say ready within {waited:.0f} s ({last})")
        await asyncio.sleep(0.1)


async def send(client: httpx.AsyncClient, captured: Captured) -> Replayed:
    """Re-send one captured request to the staged versions and time the answer."""
    method = METHODS.get(captured.template)
    if method is None:
        return Replayed(status=None, answer=None, latency_ms=0.0, problem="not replayable")
    if captured.masked_path:
        return Replayed(status=None, answer=None, latency_ms=0.0, problem="masked customer id")
    headers = dict(STAGING_HEADERS)
    if (
        captured.request_id.isascii()
    ):  # a masked id holds 〔...〕 placeholders: the server makes one
        headers["X-Request-ID"] = captured.request_id
    body = orjson.dumps(captured.body) if method == "POST" else None
    if body is not None:
        headers["Content-Type"] = "application/json"
    started = time.perf_counter()
    try:
        response = await client.request(method, captured.path, content=body, headers=headers)
    except httpx.TransportError as error:
        latency = (time.perf_counter() - started) * 1000
        return Replayed(status=None, answer=None, latency_ms=latency, problem=type(error).__name__)
    latency = (time.perf_counter() - started) * 1000
    answer = _json(response)
    if 200 <= response.status_code < 300:
        return Replayed(status=response.status_code, answer=answer, latency_ms=latency)
    # The problem's title only: its detail may name fields, but never needs to be in a report.
    title = answer.get("title") if isinstance(answer, dict) else None
    return Replayed(status=response.status_code, answer=None, latency_ms=latency, problem=title)


def _json(response: httpx.Response) -> Any:
    try:
        return orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return None
