"""``X-Request-ID``: accepted from the caller or made up, and echoed on every answer."""

from __future__ import annotations

import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

HEADER = b"x-request-id"
MAX_LENGTH = 128


class RequestIdMiddleware:
    """Pure ASGI (no BaseHTTPMiddleware): it sits on every request's path."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _given_id(scope) or uuid.uuid4().hex.encode()
        scope.setdefault("state", {})["request_id"] = request_id.decode("latin-1")

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (HEADER, request_id)]
            await send(message)

        await self.app(scope, receive, send_with_id)


def _given_id(scope: Scope) -> bytes | None:
    for name, value in scope["headers"]:
        if name == HEADER and 0 < len(value) <= MAX_LENGTH and value.isascii():
            return value
    return None
