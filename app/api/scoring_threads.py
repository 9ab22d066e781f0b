"""Scoring off the event loop: work that grows with the batch runs on a scoring thread.

A 64-text classification of long texts or a 100-customer score takes tens of milliseconds of
CPU here. Run on the event loop it stalled every other connection of the worker: nothing was
accepted or read meanwhile, and at SIGTERM uvicorn closed unanswered every connection whose
request it had not read yet. A batch of one stays on the loop: it holds the loop for a fraction
of a millisecond, and the hop to a thread and back (0.1-0.25 ms measured) would cost the
one-text benchmark a fifth of its latency. Short batches stay on threads too: 32 texts on the
loop (about 1 ms each) gave a fifth more answers per second, but a p99 of 1-1.4 s at 64
connections against 0.24 s on threads, whose queue serves requests in turn (2026-12-01).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import anyio
import anyio.to_thread
from fastapi import Request

ON_LOOP_MAX_ITEMS = 1
# The GIL runs one thread's Python at a time: two threads keep a worker's core busy (one
# computes while the other is in numpy or waits for the GIL); more would only slice the same
# core among more batches, each answered later. Sync routes keep anyio's own pool of 40.
SCORING_THREADS = 2

T = TypeVar("T")


def scoring_threads() -> anyio.CapacityLimiter:
    """The limit on a worker's concurrent batch scorings (one per app, kept in its state)."""
    return anyio.CapacityLimiter(SCORING_THREADS)


async def run_scoring(
    request: Request, items: int, score: Callable[..., T], *args: Any, **kwargs: Any
) -> T:
    """``score(*args, **kwargs)`` for a batch of ``items``: on the loop for one, on a scoring
    thread for more, so one heavy batch never stalls other requests or a graceful shutdown."""
    if items <= ON_LOOP_MAX_ITEMS:
        return score(*args, **kwargs)
    call = functools.partial(score, *args, **kwargs)
    return await anyio.to_thread.run_sync(call, limiter=request.app.state.scoring_threads)
