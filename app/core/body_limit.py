"""Request bodies limited while they are read, per endpoint, from the documented batch limits.

Pure ASGI (no BaseHTTPMiddleware): it sits on every request's path. A body whose declared
``Content-Length`` is over the endpoint's limit is refused before a byte of it is read; a
chunked body is counted as it streams, and reading stops at the limit. Either way the answer
is a 413 problem+json naming ``body``, and no more than the limit is ever held.

After an early 413 the connection stays usable when the client will finish sending a body of
a known, moderate length (the server reads the rest and throws it away, holding none of it);
otherwise (a chunked stream, a very large declared length, ``Expect: 100-continue``) the
answer says ``Connection: close`` and the server closes it.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.config import Settings
from app.core.errors import FieldError, PayloadTooLargeError, problem_response
from app.core.inference_paths import infer_path
from app.services.served_models import TEXT_MODELS

KIB = 1024
# JSON punctuation, whitespace and the fields beside the batch (``models``, ids).
SLACK_BYTES = 64 * KIB
# A character written as a \uXXXX escape takes 6 bytes (a Chinese one in UTF-8, 3).
TEXT_CHAR_BYTES = 6
TEXT_QUOTES_BYTES = 8  # the quotes, the comma and some spaces around each text
# A refused body declared up to this long is read to its end and thrown away, so the client
# sees the 413 on a connection it can keep; a longer one is not worth the bandwidth.
DRAIN_MAX_BYTES = 16 * KIB * KIB

CLASSIFY, SCORE, FEEDBACK = "/v1/demands/classify", "/v1/customers/score", "/v1/feedback"
# A feedback item's fields besides its text: ids, the verdicts, who, in JSON.
FEEDBACK_ITEM_BYTES = 2 * KIB
_CUSTOMER_PATH = re.compile(r"/v1/customers/[^/]+")


@dataclass(frozen=True)
class BodyLimits:
    """The largest body, in bytes, each endpoint takes."""

    classify: int
    score: int
    customer: int  # PUT /v1/customers/{id}: one feature record
    feedback: int
    other: int = SLACK_BYTES

    @classmethod
    def of(cls, settings: Settings) -> BodyLimits:
        """The limits the batch settings imply, or ``max_body_bytes`` everywhere when set."""
        if settings.max_body_bytes is not None:
            size = settings.max_body_bytes
            return cls(classify=size, score=size, customer=size, feedback=size, other=size)
        text_bytes = settings.max_text_chars * TEXT_CHAR_BYTES + TEXT_QUOTES_BYTES
        return cls(
            classify=settings.max_texts_per_request * text_bytes + SLACK_BYTES,
            score=settings.max_customers_per_request * settings.max_record_bytes + SLACK_BYTES,
            customer=settings.max_record_bytes + SLACK_BYTES,
            feedback=settings.max_feedback_per_request * (text_bytes + FEEDBACK_ITEM_BYTES)
            + SLACK_BYTES,
        )

    def for_request(self, method: str, path: str) -> int:
        if method == "POST" and path == CLASSIFY:
            return self.classify
        if method == "POST" and path == SCORE:
            return self.score
        if method == "POST" and path == FEEDBACK:
            return self.feedback
        if method == "POST" and (inference := infer_path(path)):
            # a text model's tensor holds texts as classify's body does; a customer model's
            # columns hold less than score's records
            return self.classify if inference[1]["model_name"] in TEXT_MODELS else self.score
        if method == "PUT" and _CUSTOMER_PATH.fullmatch(path):
            return self.customer
        return self.other


class BodyLimitMiddleware:
    """Answers 413 for a body over its endpoint's limit, before it is held in memory."""

    def __init__(self, app: ASGIApp, *, limits: BodyLimits):
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limits.for_request(scope["method"], scope["path"])
        declared, chunked, expects_continue = _body_headers(scope["headers"])
        if chunked:
            messages = await _read_within(receive, limit)
            if messages is None:
                await _refuse(scope, receive, send, limit, close=True)
                return
            await self.app(scope, _replaying(messages, receive), send)
        elif declared is not None and declared > limit:
            close = expects_continue or declared > DRAIN_MAX_BYTES
            await _refuse(scope, receive, send, limit, close=close)
        else:  # a known length within the limit (the server reads no more), or no body
            await self.app(scope, receive, send)


def _body_headers(headers: list[tuple[bytes, bytes]]) -> tuple[int | None, bool, bool]:
    """The declared length (None: not declared), whether the body is chunked, and whether the
    client waits for ``100 Continue`` before sending it."""
    declared, chunked, expects_continue = None, False, False
    for name, value in headers:
        if name == b"content-length":
            declared = int(value) if value.isdigit() else None
        elif name == b"transfer-encoding":
            chunked = b"chunked" in value.lower()
        elif name == b"expect":
            expects_continue = value.lower() == b"100-continue"
    return declared, chunked, expects_continue


async def _read_within(receive: Receive, limit: int) -> list[Message] | None:
    """The request's messages, read to the end of the body; None once it passes ``limit``."""
    messages: list[Message] = []
    size = 0
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            return messages
        size += len(message.get("body", b""))
        if size > limit:
            return None
        if not message.get("more_body", False):
            return messages


def _replaying(messages: list[Message], receive: Receive) -> Receive:
    """A ``receive`` that gives the messages already read, then the server's own."""
    pending = deque(messages)

    async def replay() -> Message:
        return pending.popleft() if pending else await receive()

    return replay


async def _refuse(scope: Scope, receive: Receive, send: Send, limit: int, *, close: bool) -> None:
    response = problem_response(
        Request(scope),
        status=PayloadTooLargeError.status,
        title=PayloadTooLargeError.title,
        detail=f"the request body is over this endpoint's limit of {limit} bytes",
        errors=[FieldError("body", f"longer than {limit} bytes")],
        headers={"Connection": "close"} if close else None,
    )
    await response(scope, receive, send)
