"""``insight monitor drift``: production traffic against each version's reference profile
(docs/monitoring.md, "Drift")."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click

from app.commands.window import WindowTime
from app.core.config import Settings

DRIFT_MAX_PSI = 0.25  # app.drift.monitor.DEFAULT_MAX_PSI, without importing numpy at startup
DRIFT_EXIT_STATUS = 3


@click.command()
@click.option(
    "--model",
    "models",
    multiple=True,
    help="Only this model (repeat for several). Default: every model that answered.",
)
@click.option("--since", type=WindowTime(), help="Captured at or after: 2025-06-01T08:00, 24h.")
@click.option("--until", type=WindowTime(), help="Captured before (same forms as --since).")
@click.option(
    "--max-psi",
    type=click.FloatRange(min=0),
    default=DRIFT_MAX_PSI,
    show_default=True,
    help=f"Exit with status {DRIFT_EXIT_STATUS} when any PSI is above this.",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("drift-report"),
    show_default=True,
    help="Folder for drift.json and drift.html.",
)
@click.pass_context
def drift(
    context: click.Context,
    models: tuple[str, ...],
    since: datetime | None,
    until: datetime | None,
    max_psi: float,
    out_dir: Path,
) -> None:
    """Compare captured production traffic with each version's reference profile.

    PSI per customer feature, text length and out-of-vocabulary share, and answer field
    (Jensen-Shannon too for categories): above 0.25 shift, 0.1-0.25 watch, below 0.1 stable.
    Exit status: 0 no PSI above --max-psi; 3 some PSI above it; 1 nothing to compare (no
    traffic in the window, no reference profile); 2 bad options.
    """
    from app.drift.monitor import NoTrafficError, check_drift
    from app.drift.references import NoProfileError
    from app.drift.report import write_drift_report
    from app.replay.selection import SelectionError

    try:
        summary = check_drift(
            context.ensure_object(Settings),
            since=since,
            until=until,
            models=models,
            max_psi=max_psi,
        )
    except SelectionError as error:
        raise click.UsageError(str(error)) from None
    except (NoTrafficError, NoProfileError) as error:
        raise click.ClickException(str(error)) from None
    _, page = write_drift_report(summary, out_dir)
    _show_drift(summary)
    click.echo(f"report: {page}")
    if not summary["passed"]:
        click.echo(f"PSI above --max-psi {max_psi:g}: {len(summary['exceeded'])} statistic(s)")
        context.exit(DRIFT_EXIT_STATUS)


def _show_drift(summary: dict) -> None:
    """Per version, the statistics not stable (feature, PSI, flag), then how many are."""
    for problem in summary["without_profile"]:
        click.echo(f"skipped: {problem['problem']}")
    for version in summary["versions"]:
        click.echo(f"{version['model']} version {version['version']}: {version['items']} items")
        moved = [s for s in version["shifts"] if s["flag"] != "stable"]
        for shift in sorted(moved, key=lambda s: -s["psi"]):
            name = f"{shift['group']} {shift['name']}"
            click.echo(f"  {name:<44} PSI {shift['psi']:7.3f}  {shift['flag']}")
        stable = len(version["shifts"]) - len(moved)
        click.echo(f"  {stable} of {len(version['shifts'])} statistics stable (PSI < 0.1)")
        if "oov_rate" in version:
            rates = version["oov_rate"]
            click.echo(
                f"  out-of-vocabulary rate {_rate(rates['current'])} "
                f"(training {_rate(rates['reference'])})"
            )


def _rate(value: float | None) -> str:
    return "n/a" if value is None or value != value else f"{value:.1%}"
