"""``insight keys``: make, list and revoke the API keys callers send."""

from __future__ import annotations

import os
import re
from datetime import datetime
from pathlib import Path

import click

from app.core.config import Settings
from app.core.security import SCOPES

RATE_FORM = re.compile(r"(?P<count>\d+(?:\.\d+)?)(?:/s)?")


def _rate_limit(_context, _parameter, value: str | None) -> float | None:
    if value is None:
        return None
    match = RATE_FORM.fullmatch(value.strip())
    if not match or float(match["count"]) <= 0:
        raise click.BadParameter("give requests per second, e.g. 50/s")
    return float(match["count"])


def _scopes(_context, _parameter, value: str) -> list[str]:
    return [scope.strip() for scope in value.split(",") if scope.strip()]


def _sessions(context: click.Context):
    from app.db.migrations import migrated_sessions

    return migrated_sessions(context.ensure_object(Settings).app_database_url())


@click.group()
def keys() -> None:
    """API keys: every call to the service but the probes needs one, holding the call's scope."""


@keys.command("create")
@click.option("--name", required=True, help="Who holds the key (e.g. crm-prod); unique in use.")
@click.option(
    "--scopes",
    required=True,
    callback=_scopes,
    help="Comma-separated: " + ", ".join(f"{scope} ({allows})" for scope, allows in SCOPES.items()),
)
@click.option("--expires-in-days", type=click.FloatRange(min=0, min_open=True), default=None)
@click.option(
    "--rate-limit",
    default=None,
    callback=_rate_limit,
    help="Requests per second the key may send to each worker, e.g. 50/s; past it, 429.",
)
@click.option(
    "--secret-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the secret to this file (readable by its owner only) instead of printing it.",
)
@click.pass_context
def keys_create(
    context: click.Context,
    name: str,
    scopes: list[str],
    expires_in_days: float | None,
    rate_limit: float | None,
    secret_file: Path | None,
) -> None:
    """Make a key; its secret is shown once (alone on the last line) and never stored."""
    from app.db.session import session_scope
    from app.services.api_keys import ApiKeyError, create_key

    with _sessions(context) as sessions, session_scope(sessions) as session:
        try:
            made = create_key(
                session,
                name=name,
                scopes=scopes,
                expires_in_days=expires_in_days,
                rate_limit=rate_limit,
            )
        except ApiKeyError as error:
            raise click.ClickException(str(error)) from None
        key = made.key
        if secret_file is not None:
            _write_private(secret_file, made.secret)
    expires = _when(key.expires_at) if key.expires_at else "never"
    click.echo(
        f"created key {key.name!r} (id {key.key_id}): scopes {', '.join(key.scopes)}, "
        f"expires {expires}; every worker accepts it within a second"
    )
    if secret_file is not None:
        click.echo(f"the secret is in {secret_file} (readable by you only)")
    else:
        click.echo("the secret, shown this once (send it as Authorization: Bearer <secret>):")
        click.echo(made.secret)


def _write_private(path: Path, secret: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(secret + "\n")
    os.chmod(path, 0o600)  # an existing file keeps its old mode through os.open


@keys.command("list")
@click.option("--all", "include_revoked", is_flag=True, help="Revoked keys too.")
@click.pass_context
def keys_list(context: click.Context, include_revoked: bool) -> None:
    """Every key in use: name, scopes, created, expires, last used (never a secret)."""
    from app.db.session import session_scope
    from app.services.api_keys import list_keys

    with _sessions(context) as sessions, session_scope(sessions) as session:
        listed = list_keys(session, include_revoked=include_revoked)
        if not listed:
            click.echo("no keys yet: `insight keys create --name NAME --scopes ...`")
        for key in listed:
            limit = f"{key.rate_limit:g}/s" if key.rate_limit else "-"
            state = f"  revoked {_when(key.revoked_at)}" if key.revoked_at else ""
            click.echo(
                f"{key.name:<24} id {key.key_id}  scopes {','.join(key.scopes):<30} "
                f"created {_when(key.created_at)}  expires {_when(key.expires_at)}  "
                f"last used {_when(key.last_used_at)}  limit {limit}{state}"
            )


@keys.command("revoke")
@click.argument("name")
@click.pass_context
def keys_revoke(context: click.Context, name: str) -> None:
    """Revoke the key in use under NAME: every worker refuses it within seconds."""
    from app.db.session import session_scope
    from app.services.api_keys import ApiKeyError, revoke_key

    with _sessions(context) as sessions, session_scope(sessions) as session:
        try:
            key = revoke_key(session, name)
        except ApiKeyError as error:
            raise click.ClickException(str(error)) from None
        click.echo(f"revoked key {key.name!r} (id {key.key_id})")


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "-"
