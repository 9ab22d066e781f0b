"""API keys for the benchmarks: each run makes its own in the app database its servers use,
and revokes it when done, so runs do not pile up keys in use."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager

from app.db.migrations import migrated_sessions
from app.db.session import session_scope
from app.services.api_keys import create_key, revoke_key


@contextmanager
def bench_key(database_url: str, *, scopes: list[str]) -> Iterator[str]:
    """The secret of a new key with ``scopes`` in the app database at ``database_url``
    (which must be migrated), named ``bench-<random hex>``; revoked on the way out."""
    name = f"bench-{secrets.token_hex(6)}"
    with migrated_sessions(database_url) as sessions:
        with session_scope(sessions) as session:
            secret = create_key(session, name=name, scopes=scopes).secret
        try:
            yield secret
        finally:
            with session_scope(sessions) as session:
                revoke_key(session, name)


def auth_headers(api_key: str | None) -> dict[str, str]:
    """The ``Authorization`` header carrying ``api_key``; none without a key."""
    return {"Authorization": f"Bearer {api_key}"} if api_key else {}
