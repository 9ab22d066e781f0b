"""The keyring without a server: refusals logged by key id at most once a second, the
rate-limit bucket's burst and pace, expiry."""

import logging
import secrets
from datetime import timedelta

import pytest

from app.core.errors import UnauthorizedError
from app.core.security import Caller, Keyring, hash_secret
from app.db.base import utc_now
from app.db.models import ApiKey


def _key(secret: str, **fields) -> ApiKey:
    return ApiKey(
        name="crm",
        key_id=secret.split("_")[1],
        secret_hash=hash_secret(secret),
        scopes=["classify"],
        **fields,
    )


def _secret(key_id: str = "0123456789ab") -> str:
    return f"isk_{key_id}_{secrets.token_urlsafe(32)}"


def test_a_flood_of_bad_keys_logs_one_line_naming_the_key_id_only(caplog):
    keyring = Keyring()
    wrong = [_secret() for _ in range(50)]
    with caplog.at_level(logging.WARNING, logger="app.core.security"):
        for secret in wrong:
            with pytest.raises(UnauthorizedError):
                keyring.authenticate(secret)
    (line,) = caplog.messages
    assert "isk_0123456789ab…" in line
    assert not [s for s in wrong if s[len("isk_0123456789ab_") :] in line]


def test_the_bucket_allows_a_burst_of_the_limit_then_its_pace():
    caller = Caller(name="crm", key_id="k", scopes=frozenset({"classify"}), rate_limit=5)
    waits = [caller.take_request(100.0) for _ in range(6)]
    assert waits[:5] == [0.0] * 5 and waits[5] == pytest.approx(0.2)
    assert caller.take_request(100.2) == 0.0  # one token back after 1/5 s
    assert caller.take_request(100.2) > 0


def test_an_expired_key_is_refused_and_a_usable_one_is_let_in():
    usable, expired = _secret("aaaaaaaaaaaa"), _secret("bbbbbbbbbbbb")
    keyring = Keyring()
    keyring.replace([_key(usable), _key(expired, expires_at=utc_now() - timedelta(seconds=1))])
    assert keyring.authenticate(usable).name == "crm"
    with pytest.raises(UnauthorizedError, match="expired"):
        keyring.authenticate(expired)
