"""Which captured requests a replay re-sends: the filters, and reading them oldest first."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from app.core.inference_paths import INFER, INFER_VERSION
from app.db.models import CapturedRequest

CLASSIFY = "/v1/demands/classify"
SCORE = "/v1/customers/score"
PROFILE = "/v1/customers/{customer_id}/profile"
# The endpoints a replay knows how to re-send, by template, with their HTTP method.
METHODS = {CLASSIFY: "POST", SCORE: "POST", PROFILE: "GET"}
# What a selection may read: those, and the Open Inference Protocol's (drift reads them).
CAPTURED = (*METHODS, INFER, INFER_VERSION)
_PROFILE_PATH = re.compile(r"^/v1/customers/[^/]+/profile$")
_DURATION = re.compile(r"^(\d+)([mhd])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}
PAGE_ROWS = 200
MASK_OPENING = "〔"  # every masking placeholder starts with it


class SelectionError(ValueError):
    """Filters that cannot select anything: a start after the end, a time that does not parse."""


@dataclass(frozen=True)
class Captured:
    """One captured request, read out of the database (its body already masked by capture)."""

    id: int
    request_id: str
    endpoint: str  # the route template; before revision 0004, a profile's path
    body: Any
    answer: Any
    model_versions: list[dict[str, str]]
    latency_ms: float
    captured_at: datetime
    path_params: Mapping[str, str] | None = None  # masked, as capture stored them

    @property
    def template(self) -> str:
        return endpoint_template(self.endpoint)

    @property
    def path(self) -> str:
        """The path to send the request to: the template filled with its parameters."""
        if not self.path_params:
            return self.endpoint
        quoted = {name: quote(str(value), safe="") for name, value in self.path_params.items()}
        return self.endpoint.format_map(quoted)

    @property
    def masked_path(self) -> bool:
        """True when capture masked personal data in the path (a customer id): the request
        can no longer reach the customer it was about."""
        values = self.path_params.values() if self.path_params else ()
        return MASK_OPENING in self.endpoint or any(MASK_OPENING in str(v) for v in values)

    @property
    def answered_by_production(self) -> bool:
        """False when a model answered from another alias (a request routed to staging, or an
        earlier replay captured by a deployment sharing this database): nothing to compare."""
        aliases = {ref.get("alias") for ref in self.model_versions if isinstance(ref, dict)}
        return aliases <= {"production"}


@dataclass(frozen=True)
class ReplayFilter:
    """Captured requests answered 2xx, captured in [since, until), of the given endpoints."""

    since: datetime | None = None
    until: datetime | None = None
    endpoints: tuple[str, ...] = tuple(METHODS)
    limit: int | None = None
    client: str | None = None  # only requests sent with the API key of this name

    def __post_init__(self) -> None:
        if self.since and self.until and self.since >= self.until:
            raise SelectionError(
                f"--since ({self.since.isoformat()}) must be before --until "
                f"({self.until.isoformat()})"
            )
        unknown = [e for e in self.endpoints if e not in CAPTURED]
        if unknown:
            raise SelectionError(
                f"unknown endpoint(s) {', '.join(unknown)}: capture knows {', '.join(CAPTURED)}"
            )

    def describe(self) -> dict[str, Any]:
        return {
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "endpoints": list(self.endpoints),
            "limit": self.limit,
            "client": self.client,
        }


def parse_time(value: str, *, now: datetime | None = None) -> datetime:
    """An ISO 8601 date or time (UTC unless it names an offset), or a span ago: 30m, 24h, 7d."""
    if match := _DURATION.match(value.strip()):
        amount, unit = match.groups()
        return (now or datetime.now(UTC)) - timedelta(**{_UNITS[unit]: int(amount)})
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise SelectionError(
            f"{value!r} is neither an ISO 8601 time (2025-06-01, 2025-06-01T08:00+08:00) "
            "nor a span ago (30m, 24h, 7d)"
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def endpoint_template(path: str) -> str:
    """The endpoint a concrete path belongs to: a profile path names its customer."""
    if _PROFILE_PATH.match(path):
        return PROFILE
    return path


def count_captured(sessions: sessionmaker[Session], selection: ReplayFilter) -> int:
    """How many captured requests the filters select (at most the limit)."""
    query = select(func.count()).select_from(CapturedRequest).where(*_conditions(selection))
    with sessions() as session:
        total = session.execute(query).scalar_one()
    return min(total, selection.limit) if selection.limit is not None else total


def count_failed_captures(sessions: sessionmaker[Session], selection: ReplayFilter) -> int:
    """Captured requests the filters would select but for their non-2xx status (not replayed)."""
    conditions = _conditions(selection, answered=False)
    query = select(func.count()).select_from(CapturedRequest).where(*conditions)
    with sessions() as session:
        return session.execute(query.where(~_answered())).scalar_one()


def read_captured(sessions: sessionmaker[Session], selection: ReplayFilter) -> Iterator[Captured]:
    """The selected requests, oldest first, a page per short transaction.

    Short transactions, because the service being replayed against may be writing the same
    SQLite file (capture) meanwhile.
    """
    remaining = selection.limit
    after: tuple[datetime, int] | None = None
    while remaining is None or remaining > 0:
        page = PAGE_ROWS if remaining is None else min(PAGE_ROWS, remaining)
        with sessions() as session:
            rows = session.execute(_page_query(selection, after, page)).scalars().all()
            captured = [_captured(row) for row in rows]
        yield from captured
        if len(captured) < page:
            return
        after = (captured[-1].captured_at, captured[-1].id)
        remaining = None if remaining is None else remaining - len(captured)


def _page_query(
    selection: ReplayFilter, after: tuple[datetime, int] | None, rows: int
) -> Select[tuple[CapturedRequest]]:
    query = select(CapturedRequest).where(*_conditions(selection))
    if after is not None:
        at, row_id = after
        query = query.where(
            or_(
                CapturedRequest.captured_at > at,
                and_(CapturedRequest.captured_at == at, CapturedRequest.id > row_id),
            )
        )
    return query.order_by(CapturedRequest.captured_at, CapturedRequest.id).limit(rows)


def _conditions(selection: ReplayFilter, *, answered: bool = True) -> list[Any]:
    conditions: list[Any] = [_endpoint_condition(selection.endpoints)]
    if answered:
        conditions.append(_answered())
    if selection.since is not None:
        conditions.append(CapturedRequest.captured_at >= selection.since)
    if selection.until is not None:
        conditions.append(CapturedRequest.captured_at < selection.until)
    if selection.client is not None:
        conditions.append(CapturedRequest.client == selection.client)
    return conditions


def _answered() -> Any:
    return CapturedRequest.status.between(200, 299)


def _endpoint_condition(endpoints: tuple[str, ...]) -> Any:
    exact = [e for e in endpoints if e != PROFILE]
    options = [CapturedRequest.endpoint.in_(exact)] if exact else []
    if PROFILE in endpoints:
        # LIKE narrows it down; the path's shape is checked again in Python (endpoint_template).
        options.append(CapturedRequest.endpoint.like("/v1/customers/%/profile"))
    return or_(*options)


def _captured(row: CapturedRequest) -> Captured:
    return Captured(
        id=row.id,
        request_id=row.request_id,
        endpoint=row.endpoint,
        body=row.body,
        answer=row.answer,
        model_versions=list(row.model_versions or []),
        latency_ms=float(row.latency_ms),
        captured_at=row.captured_at,
        path_params=row.path_params,
    )
