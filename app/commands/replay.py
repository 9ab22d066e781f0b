"""``insight replay``: re-send captured requests to the staged versions and report the changes."""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path

import click

from app.commands.window import WindowTime
from app.core.config import Settings
from app.replay.selection import METHODS, SelectionError

PROGRESS_EVERY_S = 1.0


@click.command()
@click.option("--since", type=WindowTime(), help="Captured at or after: 2025-06-01T08:00, 24h.")
@click.option("--until", type=WindowTime(), help="Captured before (same forms as --since).")
@click.option(
    "--endpoint",
    "endpoints",
    type=click.Choice(list(METHODS)),
    multiple=True,
    help="Only this endpoint; repeat for several. Default: all three.",
)
@click.option("--limit", type=click.IntRange(min=1), help="At most N requests, oldest first.")
@click.option(
    "--against",
    type=click.Choice(["staging"]),
    default="staging",
    show_default=True,
    help="Replay in this process against the staged versions of the configured registry.",
)
@click.option("--base-url", help="Replay over HTTP to a running staging deployment instead.")
@click.option(
    "--api-key",
    envvar="INSIGHT_API_KEY",
    help="The key sent to --base-url (scopes of the endpoints replayed, and staging); better "
    "given as INSIGHT_API_KEY, out of the process list.",
)
@click.option("--client", help="Only requests sent with the API key of this name.")
@click.option(
    "--report",
    "report_dir",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Folder for index.html, report.json and the pictures.",
)
@click.option(
    "--min-agreement",
    type=click.FloatRange(0, 1),
    help="Exit non-zero when the agreement rate is below this share (0 to 1).",
)
@click.pass_context
def replay(
    context: click.Context,
    since: datetime | None,
    until: datetime | None,
    endpoints: tuple[str, ...],
    limit: int | None,
    against: str,
    base_url: str | None,
    api_key: str | None,
    client: str | None,
    report_dir: Path,
    min_agreement: float | None,
) -> None:
    """Re-send captured requests to the staged model versions and compare with production.

    Requests captured with a 2xx answer are re-sent oldest first with X-Model-Alias: staging,
    in this process (default) or to --base-url. The report (HTML and JSON) gives the agreement
    rate, flips per model, score changes, the requests that changed most, failures and latency.
    """
    from app.replay.report import write_report
    from app.replay.running import run_replay
    from app.replay.selection import ReplayFilter
    from app.replay.sending import TargetError

    if (
        base_url
        and context.get_parameter_source("against") == click.core.ParameterSource.COMMANDLINE
    ):
        raise click.UsageError("give --against staging or --base-url, not both")
    try:
        selection = ReplayFilter(since, until, endpoints or tuple(METHODS), limit, client)
        summary = run_replay(
            context.ensure_object(Settings),
            selection,
            base_url=base_url,
            api_key=api_key,
            min_agreement=min_agreement,
            progress=_ProgressLine(),
        )
    except SelectionError as error:
        raise click.UsageError(str(error)) from None
    except TargetError as error:
        raise click.ClickException(str(error)) from None
    page = write_report(summary, report_dir)
    _show_verdict(summary, page)
    if summary["passed"] is False:
        raise click.ClickException(
            f"agreement rate {_share(summary['agreement_rate'])} is below --min-agreement "
            f"{min_agreement:.1%}"
        )


class _ProgressLine:
    """``replay: 120 / 500 requests (24%), 3 failed`` on stderr, about once a second."""

    def __init__(self) -> None:
        self.shown_at = 0.0

    def __call__(self, progress) -> None:
        now = time.monotonic()
        if progress.done not in (0, progress.total) and now - self.shown_at < PROGRESS_EVERY_S:
            return
        self.shown_at = now
        share = progress.done / progress.total if progress.total else 1.0
        click.echo(
            f"replay: {progress.done:,} / {progress.total:,} requests ({share:.0%}), "
            f"{progress.failed:,} failed",
            err=True,
        )


def _show_verdict(summary: dict, page: Path) -> None:
    requests = summary["requests"]
    click.echo(
        f"replayed {requests['replayed']:,} requests: {requests['agreeing']:,} agree, "
        f"{requests['replayed'] - requests['agreeing'] - requests['failed']:,} changed, "
        f"{requests['failed']:,} failed; agreement rate {_share(summary['agreement_rate'])}"
    )
    for model, report in summary["models"].items():
        replayed_on = ", ".join(report["answered_by"]["replayed"]) or "-"
        click.echo(f"  {model:<20} {_share(report['agreement_rate']):>7}  on {replayed_on}")
    for status, count in summary["failures"]["by_status"].items():
        click.echo(f"  failed with {status}: {count:,}")
    for warning in summary["warnings"]:
        click.echo(f"warning: {warning}", err=True)
    click.echo(f"report: {page}")


def _share(rate: float | None) -> str:
    return "n/a" if rate is None else f"{rate:.1%}"
