"""One replay from start to end: select, re-send one request at a time, compare, sum up."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any

import httpx

from app.core.config import Settings
from app.db.migrations import ensure_up_to_date
from app.db.session import create_engine_for, create_session_factory
from app.replay.comparison import ReplayComparison
from app.replay.selection import (
    ReplayFilter,
    SelectionError,
    count_captured,
    count_failed_captures,
    read_captured,
)
from app.replay.sending import in_process_service, remote_service, send, wait_until_loaded
from app.replay.summary import replay_summary

IN_PROCESS_LOAD_TIMEOUT_S = 300.0
REMOTE_READY_TIMEOUT_S = 30.0
REMOTE_UNREACHABLE_S = 3.0


@dataclass(frozen=True)
class ReplayProgress:
    done: int
    total: int
    failed: int


def run_replay(
    settings: Settings,
    selection: ReplayFilter,
    *,
    base_url: str | None,
    api_key: str | None = None,
    min_agreement: float | None,
    progress: Callable[[ReplayProgress], None],
) -> dict[str, Any]:
    """Replay the selected captured requests against staging; the report's figures."""
    url = settings.app_database_url()
    ensure_up_to_date(url)
    engine = create_engine_for(url)
    try:
        sessions = create_session_factory(engine)
        total = count_captured(sessions, selection)
        if total == 0:
            raise SelectionError("no captured request (answered 2xx) matches the filters")
        skipped = count_failed_captures(sessions, selection)
        captured = read_captured(sessions, selection)
        service = remote_service(base_url, api_key) if base_url else in_process_service(settings)
        comparison, readiness = asyncio.run(_replay(service, captured, total, progress, base_url))
    finally:
        engine.dispose()
    target = {
        "kind": "http" if base_url else "in-process",
        "url": base_url,
        "alias": "staging",
        "loaded": readiness.get("loaded"),
        "load_failures": readiness.get("failures"),
    }
    return replay_summary(
        comparison,
        target=target,
        filters=selection.describe(),
        skipped_failed_captures=skipped,
        min_agreement=min_agreement,
    )


async def _replay(
    service: AbstractAsyncContextManager[httpx.AsyncClient],
    captured: Any,
    total: int,
    progress: Callable[[ReplayProgress], None],
    base_url: str | None,
    api_key: str | None = None,
) -> tuple[ReplayComparison, dict[str, Any]]:
    comparison = ReplayComparison()
    timeout = REMOTE_READY_TIMEOUT_S if base_url else IN_PROCESS_LOAD_TIMEOUT_S
    async with service as client:
        readiness = await wait_until_loaded(
            client, timeout_s=timeout, unreachable_s=REMOTE_UNREACHABLE_S if base_url else timeout
        )
        progress(ReplayProgress(0, total, 0))
        for done, request in enumerate(captured, start=1):
            if request.answered_by_production:
                comparison.add(request, await send(client, request))
            else:
                comparison.skip(request)
            progress(ReplayProgress(done, total, sum(comparison.failures.values())))
    return comparison, readiness
