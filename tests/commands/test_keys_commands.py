"""``insight keys``: create shows the secret once, list never shows one, revoke, and the
mistakes a user makes, on SQLite and PostgreSQL."""

import stat

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from app.cli import main
from app.core.security import SECRET_FORM, hash_secret
from app.db.migrations import migrated_sessions
from app.db.models import ApiKey
from app.db.session import session_scope
from tests.conftest import random_part


@pytest.fixture
def insight(tmp_path, monkeypatch, migrated_url):
    monkeypatch.setenv("INSIGHT_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("INSIGHT_DATABASE_URL", migrated_url)
    runner = CliRunner()
    return lambda *args: runner.invoke(main, list(args), catch_exceptions=False)


def _stored(url: str, name: str) -> list[ApiKey]:
    with migrated_sessions(url) as sessions, session_scope(sessions) as session:
        return list(session.scalars(select(ApiKey).where(ApiKey.name == name)))


def test_create_prints_the_secret_alone_on_the_last_line_and_stores_only_its_hash(
    insight, migrated_url
):
    made = insight("keys", "create", "--name", "crm-prod", "--scopes", "score,customers:read")
    assert made.exit_code == 0, made.output
    secret = made.stdout.splitlines()[-1]
    assert SECRET_FORM.fullmatch(secret)
    assert made.stdout.count(secret) == 1
    (key,) = _stored(migrated_url, "crm-prod")
    assert key.secret_hash == hash_secret(secret) and secret not in repr(key.__dict__)
    assert key.scopes == ["customers:read", "score"] and key.expires_at is None


def test_list_shows_every_key_in_use_and_never_a_secret(insight):
    secrets = [
        insight("keys", "create", "--name", name, "--scopes", "classify").stdout.splitlines()[-1]
        for name in ("old", "new")
    ]
    assert insight("keys", "revoke", "old").exit_code == 0
    listed = insight("keys", "list").stdout
    assert "new" in listed and "old" not in listed and "classify" in listed
    everything = insight("keys", "list", "--all").stdout
    assert "old" in everything and "revoked" in everything
    for secret in secrets:
        assert secret not in listed + everything
        assert random_part(secret) not in everything  # not even its random part


def test_two_keys_may_share_scopes_and_a_revoked_name_may_be_given_again(insight, migrated_url):
    assert insight("keys", "create", "--name", "crm", "--scopes", "score").exit_code == 0
    taken = insight("keys", "create", "--name", "crm", "--scopes", "score")
    assert taken.exit_code == 1 and "in use" in taken.output
    assert insight("keys", "create", "--name", "crm-next", "--scopes", "score").exit_code == 0
    assert insight("keys", "revoke", "crm").exit_code == 0
    assert insight("keys", "create", "--name", "crm", "--scopes", "score").exit_code == 0
    assert len(_stored(migrated_url, "crm")) == 2


@pytest.mark.parametrize(
    ("args", "complaint"),
    [
        (["--scopes", "classify,write-everything"], "unknown scope(s) write-everything"),
        (["--scopes", ","], "unknown scope(s) (none given)"),
        (["--scopes", "classify", "--rate-limit", "fast"], "requests per second"),
        (["--scopes", "classify", "--expires-in-days", "0"], "--expires-in-days"),
    ],
)
def test_create_names_what_is_wrong(insight, args, complaint):
    refused = insight("keys", "create", "--name", "x", *args)
    assert refused.exit_code != 0 and complaint in refused.output


def test_expiry_and_rate_limit_are_stored(insight, migrated_url):
    made = insight(
        "keys", "create", "--name", "qa", "--scopes", "classify,staging",
        "--expires-in-days", "30", "--rate-limit", "50/s",
    )  # fmt: skip
    assert made.exit_code == 0, made.output
    (key,) = _stored(migrated_url, "qa")
    assert key.rate_limit == 50 and (key.expires_at - key.created_at).days == 30
    assert "limit 50/s" in insight("keys", "list").stdout


def test_revoking_an_unknown_name_says_so(insight):
    refused = insight("keys", "revoke", "nobody")
    assert refused.exit_code == 1 and "no key in use is named 'nobody'" in refused.output


def test_a_secret_file_is_readable_by_its_owner_only(insight, tmp_path):
    path = tmp_path / "var" / "admin.key"
    made = insight("keys", "create", "--name", "ops", "--scopes", "admin", "--secret-file", path)
    assert made.exit_code == 0, made.output
    secret = path.read_text().strip()
    assert SECRET_FORM.fullmatch(secret) and secret not in made.output
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
