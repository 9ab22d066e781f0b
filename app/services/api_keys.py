"""API keys: made, listed and revoked in the app database, which keeps only a hash of each
(the secret's form and the scopes are in ``app.core.security``)."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.core.security import SCOPES, SECRET_PREFIX, hash_secret
from app.db.base import utc_now
from app.db.models import ApiKey

NAME_FORM = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@\-]{0,99}")


class ApiKeyError(ValueError):
    """A key that cannot be made or revoked as asked: the message says why."""


@dataclass(frozen=True)
class NewKey:
    """A key just made: the row, and its secret, shown to the user once and never again."""

    key: ApiKey
    secret: str


def create_key(
    session: Session,
    *,
    name: str,
    scopes: list[str],
    expires_in_days: float | None = None,
    rate_limit: float | None = None,
) -> NewKey:
    """Make a key named ``name`` with ``scopes``; its secret is in the answer only."""
    _check_new_key(session, name=name, scopes=scopes, rate_limit=rate_limit)
    key_id = secrets.token_hex(6)
    secret = f"{SECRET_PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
    created = utc_now()
    key = ApiKey(
        name=name,
        key_id=key_id,
        secret_hash=hash_secret(secret),
        scopes=sorted(set(scopes)),
        rate_limit=rate_limit,
        created_at=created,
        expires_at=created + timedelta(days=expires_in_days) if expires_in_days else None,
    )
    session.add(key)
    session.flush()
    return NewKey(key, secret)


def _check_new_key(
    session: Session, *, name: str, scopes: list[str], rate_limit: float | None
) -> None:
    if not NAME_FORM.fullmatch(name):
        raise ApiKeyError(
            f"a key name is 1 to 100 letters, digits and . _ @ -, starting with a letter or "
            f"digit: {name!r} is not"
        )
    unknown = sorted(set(scopes) - SCOPES.keys())
    if unknown or not scopes:
        raise ApiKeyError(
            f"unknown scope(s) {', '.join(unknown) or '(none given)'}; the scopes are "
            f"{', '.join(SCOPES)}"
        )
    if rate_limit is not None and rate_limit <= 0:
        raise ApiKeyError("a rate limit is a positive number of requests per second")
    if active_key(session, name) is not None:
        raise ApiKeyError(
            f"a key named {name!r} is in use: revoke it first, or choose another name"
        )


def active_key(session: Session, name: str) -> ApiKey | None:
    return session.scalar(select(ApiKey).where(ApiKey.name == name, ApiKey.revoked_at.is_(None)))


def revoke_key(session: Session, name: str) -> ApiKey:
    """Revoke the key in use under ``name``: every worker refuses it within seconds."""
    key = active_key(session, name)
    if key is None:
        raise ApiKeyError(f"no key in use is named {name!r} (`insight keys list` shows them)")
    key.revoked_at = utc_now()
    return key


def list_keys(session: Session, *, include_revoked: bool = False) -> list[ApiKey]:
    query = select(ApiKey).order_by(ApiKey.created_at, ApiKey.id)
    if not include_revoked:
        query = query.where(ApiKey.revoked_at.is_(None))
    return list(session.scalars(query))


def usable_keys(session: Session) -> list[ApiKey]:
    """The keys a worker accepts: not revoked (expiry is checked on each request)."""
    return list(session.scalars(select(ApiKey).where(ApiKey.revoked_at.is_(None))))


def record_last_used(session: Session, used: dict[str, datetime]) -> None:
    """Store when each key (by key id) was last used, as a worker saw it."""
    for key_id, at in used.items():
        session.execute(
            update(ApiKey)
            .where(ApiKey.key_id == key_id)
            .where((ApiKey.last_used_at.is_(None)) | (ApiKey.last_used_at < at))
            .values(last_used_at=at)
        )
