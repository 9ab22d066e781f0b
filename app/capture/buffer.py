"""The bounded buffer between the request path and the capture writer."""

from __future__ import annotations

import itertools
import os
import threading
from collections import deque
from typing import Any, NamedTuple

from app.core.metrics import CAPTURE_DROPPED

# What an entry costs beyond its body and answer: the tuple, its strings and numbers
# (measured with tracemalloc: about 0.5 KB; a one-text classify entry holds 0.9 KB in all).
ENTRY_OVERHEAD_BYTES = 600
DEFAULT_MAX_BYTES = 256 * 1024 * 1024


class RawCapture(NamedTuple):
    """What the request path keeps of one request: bytes and numbers, nothing parsed."""

    request_id: str
    endpoint: str  # the route template: /v1/customers/{customer_id}/profile
    body: bytes
    answer: bytes
    status: int
    latency_ms: float
    received_at: float  # time.time()
    client: str | None = None  # the name of the API key that sent it
    capture_id: int = 0  # unique (0: none): a batch written twice stores its rows once
    path_params: dict[str, Any] | None = None  # as sent; masked by the worker
    body_truncated: bool = False  # ``body`` is a prefix of what was sent


def entry_size(entry: RawCapture) -> int:
    """The bytes ``entry`` holds, near enough for the buffer's byte bound."""
    return len(entry.body) + len(entry.answer) + ENTRY_OVERHEAD_BYTES


class CaptureIds:
    """Unique capture ids, cheap enough for the request path: 64 random bits per process
    followed by a 64-bit counter (stored as 32 hex digits). Formatting waits for the worker:
    a counter step costs a tenth of what a formatted string would."""

    def __init__(self) -> None:
        self.new = itertools.count(int.from_bytes(os.urandom(8), "big") << 64).__next__


class CaptureBuffer:
    """Entries waiting to be written, at most ``bound`` of them and ``max_bytes`` in all; past
    either, new ones are dropped and counted (``dropped``, and ``insight_capture_dropped_total``).

    The writer reads a batch with ``peek`` and removes it with ``discard`` only once it is
    committed, so an entry being retried still counts against the bounds: they are exact.
    """

    def __init__(self, bound: int, *, max_bytes: int = DEFAULT_MAX_BYTES):
        self.bound = bound
        self.max_bytes = max_bytes
        self.dropped = 0
        self.bytes = 0
        self.ids = CaptureIds()
        self._entries: deque[tuple[RawCapture, int]] = deque()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def fill(self) -> float:
        """How full the buffer is, 0 to 1: by entries or by bytes, whichever is fuller."""
        return max(len(self._entries) / self.bound, self.bytes / self.max_bytes)

    def put(self, entry: RawCapture) -> bool:
        """Keep ``entry``; False (and counted) when the buffer is full."""
        size = entry_size(entry)
        with self._lock:
            if len(self._entries) < self.bound and self.bytes + size <= self.max_bytes:
                self._entries.append((entry, size))
                self.bytes += size
                return True
            self.dropped += 1
        CAPTURE_DROPPED.inc()
        return False

    def peek(self, count: int, max_bytes: int | None = None) -> list[RawCapture]:
        """The oldest entries, left in the buffer: at most ``count``, and no more than
        ``max_bytes`` in all (but always the first, however large)."""
        batch: list[RawCapture] = []
        size = 0
        with self._lock:
            for entry, entry_bytes in itertools.islice(self._entries, count):
                size += entry_bytes
                if batch and max_bytes is not None and size > max_bytes:
                    break
                batch.append(entry)
        return batch

    def discard(self, count: int) -> None:
        """Remove the oldest ``count`` entries (written, or refused for good)."""
        with self._lock:
            for _ in range(min(count, len(self._entries))):
                self.bytes -= self._entries.popleft()[1]
