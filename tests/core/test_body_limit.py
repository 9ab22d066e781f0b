"""Body limits: derived from the batch settings, applied before a body is held in memory, and
answered with a 413 problem+json that says whether the connection stays usable."""

import asyncio
import json
from collections.abc import Iterator

import orjson

from app.core.body_limit import DRAIN_MAX_BYTES, SLACK_BYTES, BodyLimitMiddleware, BodyLimits
from app.core.config import Settings

CLASSIFY, SCORE = "/v1/demands/classify", "/v1/customers/score"
LIMITS = BodyLimits(classify=1000, score=2000, customer=500, feedback=3000, other=100)


async def _echo_length(scope, receive, send) -> None:
    """An app that reads the whole body and answers its length."""
    size, more = 0, True
    while more:
        message = await receive()
        size += len(message.get("body", b""))
        more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": str(size).encode()})


class Exchange:
    """One request through the middleware: what it sent back, and how much it read."""

    def __init__(self, method: str, path: str, headers: dict[str, str], chunks: Iterator[bytes]):
        self.scope = {
            "type": "http",
            "method": method,
            "path": path,
            "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
            "query_string": b"",
            "server": ("127.0.0.1", 8000),
            "scheme": "http",
            "root_path": "",
        }
        self.chunks = chunks
        self.reads = 0
        self.sent: list[dict] = []
        asyncio.run(
            BodyLimitMiddleware(_echo_length, limits=LIMITS)(self.scope, self._receive, self._send)
        )

    async def _receive(self) -> dict:
        self.reads += 1
        chunk = next(self.chunks, None)
        if chunk is None:
            return {"type": "http.request", "body": b"", "more_body": False}
        return {"type": "http.request", "body": chunk, "more_body": True}

    async def _send(self, message: dict) -> None:
        self.sent.append(message)

    @property
    def status(self) -> int:
        return self.sent[0]["status"]

    @property
    def headers(self) -> dict[str, str]:
        return {k.decode(): v.decode() for k, v in self.sent[0]["headers"]}

    @property
    def body(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self.sent[1:])


def _never_read() -> Iterator[bytes]:
    raise AssertionError("the body was read")
    yield b""  # pragma: no cover


def _endless(chunk_bytes: int = 64) -> Iterator[bytes]:
    while True:
        yield b"x" * chunk_bytes


def test_the_limits_follow_the_documented_batch_limits_with_room_for_json():
    limits = BodyLimits.of(Settings())
    assert limits.classify == 64 * (2000 * 6 + 8) + SLACK_BYTES  # about 0.8 MB
    assert limits.score == 100 * 16 * 1024 + SLACK_BYTES  # about 1.7 MB
    assert limits.customer == 16 * 1024 + SLACK_BYTES
    assert limits.feedback == 100 * (2000 * 6 + 8 + 2048) + SLACK_BYTES  # about 1.5 MB
    assert limits.for_request("POST", "/v1/feedback") == limits.feedback
    assert limits.for_request("PUT", "/v1/customers/C00000001") == limits.customer
    assert limits.for_request("GET", "/v1/customers/C00000001/profile") == limits.other
    # the Open Inference Protocol: a text model's as classify, a customer model's as score
    assert limits.for_request("POST", "/v2/models/demand-classifier/infer") == limits.classify
    assert limits.for_request("POST", "/v2/models/churn/versions/3/infer") == limits.score
    assert limits.for_request("GET", "/v2/models/churn") == limits.other
    one = BodyLimits.of(Settings(max_body_bytes=1234))
    assert one == BodyLimits(classify=1234, score=1234, customer=1234, feedback=1234, other=1234)


def test_the_largest_batch_allowed_fits_even_with_every_character_escaped():
    limits = BodyLimits.of(Settings())
    largest = json.dumps({"texts": ["张" * 2000] * 64}, ensure_ascii=True, indent=4).encode()
    assert len(largest) < limits.classify
    tensor = {"name": "text", "shape": [64, 1], "datatype": "BYTES", "data": [["张" * 2000]] * 64}
    largest = json.dumps({"id": "x" * 128, "inputs": [tensor]}, ensure_ascii=True, indent=4)
    assert len(largest.encode()) < limits.classify


def test_the_largest_feedback_batch_fits_even_with_every_character_escaped():
    item = {
        "kind": "text",
        "text": "张" * 2000,
        "category": "资费套餐" * 25,  # as long as a category may be
        "spam": False,
        "corrected_by": "坐席" * 50,
    }
    largest = json.dumps({"items": [item] * 100}, ensure_ascii=True, indent=4).encode()
    assert len(largest) < BodyLimits.of(Settings()).feedback


def test_a_body_declared_too_long_is_refused_before_a_byte_of_it_is_read():
    exchange = Exchange("POST", CLASSIFY, {"content-length": str(5 * 2**20)}, _never_read())
    assert exchange.status == 413 and exchange.reads == 0
    assert exchange.headers["content-type"] == "application/problem+json"
    # The client finishes sending what it declared and reads the 413 on a connection it keeps;
    # the server reads the rest of the body and throws it away.
    assert "connection" not in exchange.headers
    problem = orjson.loads(exchange.body)
    assert problem == {
        "type": "about:blank",
        "title": "Request too large",
        "status": 413,
        "detail": "the request body is over this endpoint's limit of 1000 bytes",
        "errors": [{"field": "body", "message": "longer than 1000 bytes"}],
    }


def test_the_connection_is_closed_when_the_rest_of_the_body_is_not_worth_reading():
    huge = Exchange("POST", SCORE, {"content-length": str(DRAIN_MAX_BYTES + 1)}, _never_read())
    waiting = Exchange(
        "POST", SCORE, {"content-length": "2001", "expect": "100-continue"}, _never_read()
    )
    for exchange in (huge, waiting):
        assert exchange.status == 413 and exchange.headers["connection"] == "close"


def test_a_chunked_body_is_counted_as_it_streams_and_reading_stops_at_the_limit():
    exchange = Exchange("POST", CLASSIFY, {"transfer-encoding": "chunked"}, _endless(64))
    assert exchange.status == 413 and exchange.headers["connection"] == "close"
    assert exchange.reads == 1000 // 64 + 1  # the chunk that passed the limit, and no more
    assert orjson.loads(exchange.body)["errors"][0]["field"] == "body"


def test_bodies_within_the_limit_reach_the_app_whole():
    chunked = Exchange("POST", CLASSIFY, {"transfer-encoding": "chunked"}, iter([b"x" * 600] * 1))
    declared = Exchange("POST", SCORE, {"content-length": "2000"}, iter([b"y" * 1000] * 2))
    assert (chunked.status, chunked.body) == (200, b"600")
    assert (declared.status, declared.body) == (200, b"2000")


def test_each_endpoint_has_its_own_limit():
    def status(method: str, path: str, size: int) -> int:
        return Exchange(method, path, {"content-length": str(size)}, iter([b"z" * size])).status

    assert status("POST", SCORE, 1500) == 200 and status("POST", CLASSIFY, 1500) == 413
    assert status("PUT", "/v1/customers/C1", 500) == 200
    assert status("PUT", "/v1/customers/C1", 501) == 413
    assert status("POST", "/v1/admin/models/refresh", 101) == 413
