"""``insight db``: migrate the app database and show its revision."""

from __future__ import annotations

import click

from app.core.config import Settings


@click.group()
def db() -> None:
    """The app database (INSIGHT_DATABASE_URL): apply migrations, show the revision."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True, help="Revision to migrate to.")
@click.pass_context
def db_upgrade(context: click.Context, revision: str) -> None:
    """Apply the migrations the database does not have yet."""
    from app.db.migrations import current_revision, upgrade
    from app.db.session import redacted

    url = context.ensure_object(Settings).app_database_url()
    before = current_revision(url)
    upgrade(url, revision)
    after = current_revision(url)
    where = redacted(url)
    if before == after:
        click.echo(f"{where} is already at revision {after}")
    else:
        click.echo(f"{where}: revision {before or '(empty)'} -> {after}")


@db.command("current")
@click.pass_context
def db_current(context: click.Context) -> None:
    """Show the database's revision and whether it is up to date."""
    from app.db.migrations import current_revision, head_revision
    from app.db.session import redacted

    url = context.ensure_object(Settings).app_database_url()
    current, head = current_revision(url), head_revision()
    if current == head:
        state = "up to date"
    elif current is None:
        state = "empty: run `insight db upgrade`"
    else:
        state = f"behind {head}: run `insight db upgrade`"
    click.echo(f"{redacted(url)}: revision {current or '(none)'} ({state})")
