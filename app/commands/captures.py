"""``insight captures``: the captured requests kept for replay."""

from __future__ import annotations

import click

from app.core.config import Settings


@click.group()
def captures() -> None:
    """Captured scoring requests (personal data masked), kept for QA to replay."""


@captures.command("prune")
@click.option(
    "--older-than-days",
    type=click.IntRange(min=1),
    default=None,
    help="Defaults to INSIGHT_CAPTURE_RETENTION_DAYS (30).",
)
@click.pass_context
def captures_prune(context: click.Context, older_than_days: int | None) -> None:
    """Delete captured requests older than the retention (the service also does it hourly)."""
    from app.capture.retention import prune_captures
    from app.db.migrations import ensure_up_to_date
    from app.db.session import create_engine_for

    settings = context.ensure_object(Settings)
    days = settings.capture_retention_days if older_than_days is None else older_than_days
    if days == 0:
        click.echo("INSIGHT_CAPTURE_RETENTION_DAYS is 0: captured requests are kept forever")
        return
    url = settings.app_database_url()
    ensure_up_to_date(url)
    engine = create_engine_for(url)
    try:
        deleted = prune_captures(engine, retention_days=days)
    finally:
        engine.dispose()
    click.echo(f"deleted {deleted:,} captured requests older than {days} days")
