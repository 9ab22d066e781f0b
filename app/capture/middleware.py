"""The capture middleware: keeps each scoring request's bytes and hands them to the buffer.

Pure ASGI (no BaseHTTPMiddleware): it sits on the request path of every scoring request, so it
does the least it can there: it keeps the body and answer bytes as they pass, times the request
and appends one tuple to the buffer. Parsing, masking and writing happen in the capture worker.

The endpoint kept is the route template, never the path: a profile path holds a customer id,
which goes apart, in the path parameters, to be masked. Of a refused (non-2xx) request only a
prefix of the body is kept, so a flood of large bodies cannot fill the buffer.
"""

from __future__ import annotations

import re
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.capture.buffer import CaptureBuffer, RawCapture
from app.core.inference_paths import infer_path

# The scoring and classification endpoints: what answers with models, not the customer store.
CAPTURED_POSTS = frozenset({"/v1/demands/classify", "/v1/customers/score"})
PROFILE = "/v1/customers/{customer_id}/profile"
_PROFILE_PATH = re.compile(r"/v1/customers/(?P<customer_id>[^/]+)/profile")
DEFAULT_REFUSED_BODY_BYTES = 4096


def captured_endpoint(method: str, path: str) -> tuple[str, dict[str, Any] | None] | None:
    """The route template and path parameters of a scoring request; None for any other."""
    if method == "POST":
        return (path, None) if path in CAPTURED_POSTS else infer_path(path)
    if method == "GET" and (match := _PROFILE_PATH.fullmatch(path)):
        return PROFILE, match.groupdict()
    return None


def kept_body(
    chunks: list[bytes], *, answered: bool, complete: bool, limit: int
) -> tuple[bytes, bool]:
    """What capture keeps of a body, and whether that is less than was sent: all of an
    answered (2xx) request's, at most ``limit`` bytes of a refused one's."""
    if answered:
        return b"".join(chunks), False
    prefix = bytearray()
    for chunk in chunks:
        prefix += chunk[: limit - len(prefix)]
        if len(prefix) >= limit:
            break
    cut = sum(len(chunk) for chunk in chunks) > len(prefix)
    return bytes(prefix), cut or not complete


class CaptureMiddleware:
    """Puts a ``RawCapture`` of every scoring request into ``buffer``."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        buffer: CaptureBuffer,
        refused_body_bytes: int = DEFAULT_REFUSED_BODY_BYTES,
    ):
        self.app = app
        self.buffer = buffer
        self.refused_body_bytes = refused_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        endpoint = (
            captured_endpoint(scope["method"], scope["path"]) if scope["type"] == "http" else None
        )
        if endpoint is None:
            await self.app(scope, receive, send)
            return
        received_at, started = time.time(), time.perf_counter()
        body: list[bytes] = []
        answer: list[bytes] = []
        status = 500  # what the client gets if the app raises before it answers
        complete = scope["method"] != "POST"  # a GET sends no body: nothing is left unread

        async def receive_kept() -> Message:
            nonlocal complete
            message = await receive()
            if message["type"] == "http.request":
                body.append(message.get("body", b""))
                complete = not message.get("more_body", False)
            return message

        async def send_kept(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                answer.append(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive_kept, send_kept)
        finally:
            kept, truncated = kept_body(
                body,
                answered=200 <= status < 300,
                complete=complete,
                limit=self.refused_body_bytes,
            )
            state = scope.get("state", {})
            caller = state.get("caller")  # set by the key check
            # By position: a named tuple made from keywords costs four times as much.
            self.buffer.put(
                RawCapture(
                    state.get("request_id", ""),
                    endpoint[0],
                    kept,
                    b"".join(answer),
                    status,
                    (time.perf_counter() - started) * 1000,
                    received_at,
                    caller.name if caller else None,
                    self.buffer.ids.new(),
                    endpoint[1],
                    truncated,
                )
            )
