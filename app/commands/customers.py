"""``insight customers``: bulk import into the customer store."""

from __future__ import annotations

from pathlib import Path

import click

from app.core.config import Settings
from app.services.customer_store import DEFAULT_CHUNK_ROWS, ImportSummary


@click.group()
def customers() -> None:
    """The customer store: bulk import customers' feature records."""


@customers.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--chunk-rows",
    type=click.IntRange(min=1),
    default=DEFAULT_CHUNK_ROWS,
    show_default=True,
    help="Rows per transaction.",
)
@click.option("--id-column", default="customer_id", show_default=True)
@click.option(
    "--show-problems",
    type=click.IntRange(min=0),
    default=20,
    show_default=True,
    help="How many skipped rows to list.",
)
@click.pass_context
def customers_import(
    context: click.Context, file: Path, chunk_rows: int, id_column: str, show_problems: int
) -> None:
    """Upsert the customers of a CSV or Parquet FILE by id; bad rows are listed and skipped."""
    from app.db.migrations import DatabaseRevisionError, ensure_up_to_date
    from app.db.session import create_engine_for, create_session_factory
    from app.services.customer_store import import_customers

    url = context.ensure_object(Settings).app_database_url()
    try:
        ensure_up_to_date(url)
    except DatabaseRevisionError as error:
        raise click.ClickException(str(error)) from None
    engine = create_engine_for(url)
    try:
        summary = import_customers(
            create_session_factory(engine),
            path=file,
            id_column=id_column,
            chunk_rows=chunk_rows,
            progress=lambda done: show_import_progress(done, "customers"),
        )
    finally:
        engine.dispose()
    show_import_summary(summary, file, show_problems)


def show_import_progress(summary: ImportSummary, what: str) -> None:
    total = max(summary.total_rows, summary.done)
    share = summary.done / total if total else 1.0
    click.echo(f"{what}: {summary.done:,} / {total:,} rows ({share:.0%})", err=True)


def show_import_summary(summary: ImportSummary, file: Path, show_problems: int) -> None:
    click.echo(
        f"imported {file.name}: {summary.inserted:,} inserted, {summary.updated:,} updated, "
        f"{summary.skipped:,} skipped"
    )
    if not summary.problems or show_problems == 0:
        return
    shown = summary.problems[:show_problems]
    click.echo(f"skipped rows (first {len(shown)} of {summary.skipped:,}):")
    for problem in shown:
        click.echo(f"  {summary.row_word} {problem.line}: {problem.reason}")
