"""The capture middleware: keeps each scoring request's bytes and hands them to the buffer.

Pure ASGI (no BaseHTTPMiddleware): it sits on the request path of every scoring request, so it
does the least it can there: it keeps the body and answer bytes as they pass, times the request
and appends one tuple to the buffer. Parsing, masking and writing happen on the writer thread.
"""

from __future__ import annotations

import re
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.capture.buffer import CaptureBuffer, RawCapture

# The scoring and classification endpoints: what answers with models, not the customer store.
CAPTURED_POSTS = frozenset({"/v1/demands/classify", "/v1/customers/score"})
CAPTURED_GET = re.compile(r"/v1/customers/[^/]+/profile")


def is_captured(method: str, path: str) -> bool:
    if method == "POST":
        return path in CAPTURED_POSTS
    return method == "GET" and CAPTURED_GET.fullmatch(path) is not None


class CaptureMiddleware:
    """Puts a ``RawCapture`` of every scoring request into ``buffer``."""

    def __init__(self, app: ASGIApp, *, buffer: CaptureBuffer):
        self.app = app
        self.buffer = buffer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_captured(scope["method"], scope["path"]):
            await self.app(scope, receive, send)
            return
        received_at, started = time.time(), time.perf_counter()
        body: list[bytes] = []
        answer: list[bytes] = []
        status = 500  # what the client gets if the app raises before it answers

        async def receive_kept() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                body.append(message.get("body", b""))
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
            caller = scope.get("state", {}).get("caller")  # set by the key check
            self.buffer.put(
                RawCapture(
                    request_id=scope.get("state", {}).get("request_id", ""),
                    endpoint=scope["path"],
                    body=b"".join(body),
                    answer=b"".join(answer),
                    status=status,
                    latency_ms=(time.perf_counter() - started) * 1000,
                    received_at=received_at,
                    client=caller.name if caller else None,
                )
            )
