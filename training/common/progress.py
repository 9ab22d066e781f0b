"""Progress lines for long training steps, written to stderr."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager


def report(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@contextmanager
def step(description: str) -> Iterator[None]:
    """Say a step started, and when it ends how long it took."""
    report(f"… {description}")
    started = time.perf_counter()
    yield
    report(f"✓ {description} ({time.perf_counter() - started:.1f} s)")
