"""The bounded buffer between the request path and the capture writer."""

from __future__ import annotations

import threading
from collections import deque
from itertools import islice
from typing import NamedTuple

from app.core.metrics import CAPTURE_DROPPED


class RawCapture(NamedTuple):
    """What the request path keeps of one request: bytes and numbers, nothing parsed."""

    request_id: str
    endpoint: str
    body: bytes
    answer: bytes
    status: int
    latency_ms: float
    received_at: float  # time.time()
    client: str | None = None  # the name of the API key that sent it


class CaptureBuffer:
    """Entries waiting to be written, at most ``bound`` of them; past it new ones are dropped
    and counted (``dropped``, and the ``insight_capture_dropped_total`` metric).

    The writer reads a batch with ``peek`` and removes it with ``discard`` only once it is
    committed, so an entry being retried still counts against the bound: the bound is exact.
    """

    def __init__(self, bound: int):
        self.bound = bound
        self.dropped = 0
        self._entries: deque[RawCapture] = deque()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def put(self, entry: RawCapture) -> bool:
        """Keep ``entry``; False (and counted) when the buffer is full."""
        with self._lock:
            if len(self._entries) < self.bound:
                self._entries.append(entry)
                return True
            self.dropped += 1
        CAPTURE_DROPPED.inc()
        return False

    def peek(self, count: int) -> list[RawCapture]:
        """The oldest ``count`` entries, left in the buffer."""
        with self._lock:
            return list(islice(self._entries, count))

    def discard(self, count: int) -> None:
        """Remove the oldest ``count`` entries (written, or refused for good)."""
        with self._lock:
            for _ in range(min(count, len(self._entries))):
                self._entries.popleft()
