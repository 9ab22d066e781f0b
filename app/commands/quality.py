"""``insight monitor quality``: each model version's figures on the feedback received in a
window, beside its training figures (docs/monitoring.md, "Live quality")."""

from __future__ import annotations

import dataclasses
from datetime import datetime

import click
import orjson

from app.commands.window import WindowTime
from app.core.config import Settings


@click.command("quality")
@click.option(
    "--since", type=WindowTime(), help="Feedback received at or after: 2026-11-01, 24h, 30d."
)
@click.option("--until", type=WindowTime(), help="Feedback received before (same forms).")
@click.option("--json", "as_json", is_flag=True, help="One JSON document instead of a table.")
@click.pass_context
def quality(
    context: click.Context, since: datetime | None, until: datetime | None, as_json: bool
) -> None:
    """Per model and version that answered: accuracy and macro-F1 (demand classifier, spam
    filter, occupation), ROC-AUC (churn) or mean ROC-AUC over the targets (channel and content
    preference) on the feedback received in the window, each with its rows, beside the figure
    the version's training run logged. A figure that cannot be computed says why."""
    from app.db.migrations import ensure_up_to_date
    from app.db.session import create_engine_for, create_session_factory
    from app.services.live_quality import (
        Window,
        live_quality,
        production_versions,
        training_metrics,
        with_training_figures,
    )

    if since and until and since >= until:
        raise click.BadParameter("must be later than --since", param_hint="--until")
    settings = context.ensure_object(Settings)
    url = settings.app_database_url()
    ensure_up_to_date(url)
    client = settings.mlflow_store().activate()
    window = Window(since, until)
    engine = create_engine_for(url)
    try:
        with create_session_factory(engine)() as session:
            serving = production_versions(client, settings.served_models)
            qualities = live_quality(session, window, serving=serving)
    finally:
        engine.dispose()
    training = {
        (q.model, q.version): training_metrics(client, q.model, q.version) or {} for q in qualities
    }
    qualities = with_training_figures(qualities, training)
    if as_json:
        click.echo(orjson.dumps(_document(window, qualities), option=orjson.OPT_INDENT_2))
    else:
        _show_table(window, qualities)


def _document(window, qualities) -> dict:
    return {
        "since": window.since and window.since.isoformat(),
        "until": window.until and window.until.isoformat(),
        "versions": [dataclasses.asdict(quality) for quality in qualities],
    }


def _show_table(window, qualities) -> None:
    since = window.since.isoformat() if window.since else "the first"
    until = window.until.isoformat() if window.until else "now"
    click.echo(f"live quality on the feedback received from {since} to {until}")
    if not qualities:
        click.echo("no feedback in the window, and no production version to show")
        return
    click.echo(
        f"{'model':<20} {'version':>7} {'rows':>7}  {'metric':<13} {'live':>6} {'training':>8}"
    )
    for quality in qualities:
        lead = f"{quality.model:<20} {quality.version:>7} {quality.rows:>7,}"
        for figure in quality.figures:
            note = f"  {figure.note}" if figure.note else ""
            click.echo(
                f"{lead}  {figure.metric:<13} {_figure(figure.live):>6} "
                f"{_figure(figure.training):>8}{note}"
            )
            lead = " " * len(lead)


def _figure(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"
