"""``insight feedback``: feedback that comes from the warehouse rather than the API."""

from __future__ import annotations

from pathlib import Path

import click

from app.commands.customers import show_import_progress, show_import_summary
from app.core.config import Settings
from app.services.feedback_import import DEFAULT_CHUNK_ROWS


@click.group()
def feedback() -> None:
    """Corrections of classified texts and observed customer outcomes."""


@feedback.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--by",
    "given_by",
    default=None,
    help="Who gave the feedback, for rows without a corrected_by or reported_by value.",
)
@click.option("--alias", default="production", show_default=True, help="Whose answers check it.")
@click.option(
    "--chunk-rows",
    type=click.IntRange(min=1),
    default=DEFAULT_CHUNK_ROWS,
    show_default=True,
    help="Rows per transaction.",
)
@click.option(
    "--show-problems",
    type=click.IntRange(min=0),
    default=20,
    show_default=True,
    help="How many skipped rows to list.",
)
@click.pass_context
def feedback_import(
    context: click.Context,
    file: Path,
    given_by: str | None,
    alias: str,
    chunk_rows: int,
    show_problems: int,
) -> None:
    """Store the outcomes or corrections of a CSV or Parquet FILE, one per row, as POST
    /v1/feedback would (the columns are its fields; see docs/feedback.md). Bad rows are listed
    and skipped; importing a file again replaces what it stored."""
    from app.db.migrations import ensure_up_to_date
    from app.db.session import create_engine_for, create_session_factory
    from app.services.feedback_import import import_feedback, models_to_check

    settings = context.ensure_object(Settings)
    url = settings.app_database_url()
    ensure_up_to_date(url)
    vocabulary = _vocabulary(settings, models_to_check(file), alias)
    engine = create_engine_for(url)
    try:
        summary = import_feedback(
            create_session_factory(engine),
            path=file,
            vocabulary=vocabulary,
            max_text_chars=settings.max_text_chars,
            given_by=given_by,
            chunk_rows=chunk_rows,
            progress=lambda done: show_import_progress(done, "feedback"),
        )
    finally:
        engine.dispose()
    show_import_summary(summary, file, show_problems)


def _vocabulary(settings: Settings, names: list[str], alias: str):
    """What the feedback may name, from the versions of ``names`` behind ``alias``."""
    from app.services.feedback import FeedbackVocabulary
    from app.services.served_models import load_served_model
    from model_registry.registry import resolve_version

    client = settings.mlflow_store().activate()
    models = {}
    for name in names:
        click.echo(f"loading {name}@{alias} to check the feedback against", err=True)
        models[name] = load_served_model(client, resolve_version(client, name, alias=alias), alias)
    return FeedbackVocabulary.of(models)
