"""Scoring off the event loop: a batch that takes long runs on a scoring thread.

A 64-text classification of long texts or a 100-customer score takes tens of milliseconds of
CPU here. Run on the event loop it stalled every other connection of the worker: nothing was
accepted or read meanwhile, and at SIGTERM uvicorn closed unanswered every connection whose
request it had not read yet. A batch that holds the loop about a millisecond at most stays on
it: the hop to a thread and back (0.1-0.25 ms measured) would cost a one-text answer a fifth of
its latency, and a 32-text one a tenth.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import anyio
import anyio.to_thread
from fastapi import Request

ON_LOOP_MAX_MS = 1.5
# The GIL runs one thread's Python at a time: two threads keep a worker's core busy (one
# computes while the other is in numpy or waits for the GIL); more would only slice the same
# core among more batches, each answered later. Sync routes keep anyio's own pool of 40.
SCORING_THREADS = 2

T = TypeVar("T")


def scoring_threads() -> anyio.CapacityLimiter:
    """The limit on a worker's concurrent batch scorings (one per app, kept in its state)."""
    return anyio.CapacityLimiter(SCORING_THREADS)


def texts_ms(texts: list[str]) -> float:
    """About how long classifying ``texts`` takes here (both text models and the review rule:
    0.2 ms, and a microsecond a character, measured on 2026-12-01)."""
    return 0.2 + sum(map(len, texts)) / 1000


def customers_ms(customers: int) -> float:
    """About how long scoring ``customers`` feature records with every model takes here."""
    return 0.3 * customers


async def run_scoring(
    request: Request, cost_ms: float, score: Callable[..., T], *args: Any, **kwargs: Any
) -> T:
    """``score(*args, **kwargs)``, which takes about ``cost_ms``: on the loop when that is
    short, else on a scoring thread, so one heavy batch never stalls other requests or a
    graceful shutdown."""
    if cost_ms <= ON_LOOP_MAX_MS:
        return score(*args, **kwargs)
    call = functools.partial(score, *args, **kwargs)
    return await anyio.to_thread.run_sync(call, limiter=request.app.state.scoring_threads)
