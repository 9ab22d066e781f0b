"""Who is calling: API keys checked in memory, scopes, and per-key request-rate limits.

A worker keeps every usable key in a ``Keyring`` (reloaded from the app database every
half-second by ``app.services.deployment``), so checking a key costs a hash and a dict lookup,
never a database round trip. No secret is kept, logged or echoed: a refused key is named in
the log by its public key id only.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from app.core.errors import ForbiddenError, RateLimitedError, UnauthorizedError
from app.db.models import ApiKey

logger = logging.getLogger(__name__)

# A secret reads ``isk_<key id>_<43 characters>``: the key id (public, 12 hex digits) finds
# the key, the rest is 256 random bits. With that much entropy a fast hash (SHA-256) is as
# safe as a slow one, since no dictionary reaches it, and a check costs a microsecond.
SECRET_PREFIX = "isk_"
SECRET_FORM = re.compile(r"isk_(?P<key_id>[0-9a-f]{12})_[A-Za-z0-9_\-]{43}")

# What each scope allows; ``admin`` allows everything.
SCOPES = {
    "classify": "POST /v1/demands/classify",
    "score": "POST /v1/customers/score",
    "customers:read": "GET /v1/customers/{id}, GET /v1/customers/{id}/profile, GET /v1/reports/*",
    "customers:write": "PUT /v1/customers/{id}",
    "feedback": "POST /v1/feedback",
    "models:read": "GET /v1/models, GET /v1/models/{name}",
    "staging": "sending X-Model-Alias: staging",
    "admin": "/v1/admin/*, /metrics from other hosts, and every scope above",
}
ADMIN = "admin"
REFUSAL_LOG_INTERVAL_S = 1.0  # a flood of bad keys logs a line a second, with the count


@dataclass
class Caller:
    """An authenticated caller: its key's name and scopes, and its rate-limit bucket."""

    name: str
    key_id: str
    scopes: frozenset[str]
    expires_at: float | None = None  # time.time() after which the key is refused
    rate_limit: float | None = None  # requests per second, in this worker
    _tokens: float = field(default=0.0, repr=False, compare=False)
    _filled_at: float = field(default=0.0, repr=False, compare=False)

    def allows(self, scope: str) -> bool:
        return scope in self.scopes or ADMIN in self.scopes

    def require(self, scope: str) -> None:
        if not self.allows(scope):
            raise ForbiddenError(
                f"the key {self.name!r} lacks the scope {scope!r}", missing_scope=scope
            )

    def take_request(self, now: float) -> float:
        """Count one request against the rate limit: 0, or the seconds until one is allowed.

        A token bucket holding one second of requests: a burst up to the limit, then the
        limit's pace.
        """
        if self.rate_limit is None:
            return 0.0
        capacity = max(self.rate_limit, 1.0)
        self._tokens = min(capacity, self._tokens + (now - self._filled_at) * self.rate_limit)
        self._filled_at = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return 0.0
        return (1.0 - self._tokens) / self.rate_limit


# With keys not required every request is this caller: the same path, a check that passes.
UNCHECKED = Caller(name="unchecked", key_id="", scopes=frozenset({ADMIN}))


class Keyring:
    """The usable keys of the deployment, as this worker last read them."""

    def __init__(self, *, required: bool = True):
        self.required = required
        self._by_key_id: dict[str, tuple[str, Caller]] = {}
        self._used: dict[str, float] = {}
        self._refused = 0
        self._refusal_logged_at = 0.0

    def replace(self, keys: Iterable[ApiKey]) -> None:
        """Take ``keys`` as the usable ones; a key still usable keeps its rate-limit bucket."""
        known = self._by_key_id
        fresh: dict[str, tuple[str, Caller]] = {}
        for key in keys:
            caller = _caller(key)
            if key.key_id in known and known[key.key_id][1] == caller:
                caller = known[key.key_id][1]
            fresh[key.key_id] = (key.secret_hash, caller)
        self._by_key_id = fresh  # one assignment: a request sees the old ring or the new

    def authenticate(self, secret: str | None) -> Caller:
        """The caller holding ``secret``; 401 when there is none or it is not a usable key,
        429 when the key is over its rate limit."""
        if not self.required:
            return UNCHECKED
        if not secret:
            raise UnauthorizedError("send an API key: Authorization: Bearer <secret>")
        key_id = key_id_of(secret)
        entry = self._by_key_id.get(key_id) if key_id else None
        if entry is None or not hmac.compare_digest(entry[0], hash_secret(secret)):
            self._log_refusal(key_id, "unknown or revoked")
            raise UnauthorizedError("the API key is not valid")
        caller = entry[1]
        now = time.time()
        if caller.expires_at is not None and now >= caller.expires_at:
            self._log_refusal(key_id, "expired")
            raise UnauthorizedError("the API key has expired")
        wait_s = caller.take_request(now)
        if wait_s:
            raise RateLimitedError(
                f"the key {caller.name!r} is over its limit of {caller.rate_limit:g} requests "
                "per second",
                retry_after_s=math.ceil(wait_s),
            )
        self._used[caller.key_id] = now
        return caller

    def take_last_used(self) -> dict[str, datetime]:
        """When each key was last used since the last call (key id -> time), then forget."""
        used, self._used = self._used, {}
        return {key_id: datetime.fromtimestamp(at, UTC) for key_id, at in used.items()}

    def _log_refusal(self, key_id: str | None, why: str) -> None:
        self._refused += 1
        now = time.monotonic()
        if now - self._refusal_logged_at < REFUSAL_LOG_INTERVAL_S:
            return
        shown = f"isk_{key_id}…" if key_id else "a malformed key"
        logger.warning(
            "refused %s (%s); %d refused keys since the last such line",
            shown,
            why,
            self._refused,
        )
        self._refused, self._refusal_logged_at = 0, now


def _caller(key: ApiKey) -> Caller:
    return Caller(
        name=key.name,
        key_id=key.key_id,
        scopes=frozenset(key.scopes),
        expires_at=key.expires_at.timestamp() if key.expires_at else None,
        rate_limit=key.rate_limit,
    )


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def key_id_of(secret: str) -> str | None:
    """The key id inside a well-formed secret; None for anything else."""
    match = SECRET_FORM.fullmatch(secret)
    return match["key_id"] if match else None


def presented_secret(authorization: str | None, api_key: str | None) -> str | None:
    """The secret from ``Authorization: Bearer <secret>``, else from ``X-API-Key``."""
    if authorization:
        scheme, _, credentials = authorization.partition(" ")
        if scheme.lower() == "bearer" and credentials.strip():
            return credentials.strip()
    return api_key.strip() if api_key else None
