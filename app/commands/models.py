"""``insight models``: list, stage, promote through the gates, roll back, describe."""

from __future__ import annotations

import getpass
import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import click

from app.core.config import Settings

if TYPE_CHECKING:
    from app.services.model_lifecycle import ModelDescription


@click.group()
def models() -> None:
    """Registered models: list, stage, promote (gated), roll back, describe with the audit trail."""


@models.command("list")
@click.pass_context
def models_list(context: click.Context) -> None:
    """List every registered version with its aliases."""
    from model_registry.registry import list_versions

    versions = list_versions(_client(context))
    if not versions:
        click.echo("no registered models yet: run `insight train ...`")
    for v in versions:
        aliases = ", ".join(v.aliases) or "-"
        click.echo(f"{v.name:<22} version {v.version:<4} aliases: {aliases:<22} run {v.run_id}")


def _actor_option(command):
    return click.option(
        "--actor", default=None, help="Who does it, for the audit trail (default: the OS user)."
    )(command)


@models.command("stage")
@click.argument("name")
@click.argument("version")
@click.option("--reason", default=None, help="Why, for the audit trail.")
@_actor_option
@click.pass_context
def models_stage(context, name: str, version: str, reason: str | None, actor: str | None) -> None:
    """Point NAME's staging alias at VERSION (a number, or `latest`)."""
    from app.services.model_lifecycle import stage_version

    with _app_sessions(context) as sessions:
        event = stage_version(
            client=_client(context),
            sessions=sessions,
            name=name,
            version=version,
            actor=actor or _os_user(),
            reason=reason,
        )
    click.echo(f"{name}@staging -> version {event.to_version}")


@models.command("promote")
@click.argument("name")
@click.option(
    "--version", default=None, help="A version number or `latest` (default: the staged version)."
)
@click.option("--force", is_flag=True, help="Promote even if a gate fails (needs --reason).")
@click.option("--reason", default=None, help="Why, for the audit trail.")
@_actor_option
@click.pass_context
def models_promote(context, name, version, force, reason, actor) -> None:
    """Point NAME's production alias at a version once the promotion gates pass."""
    from app.services.model_lifecycle import PromotionRefused, promote_version

    click.echo(f"… checking the promotion gates of {name}", err=True)
    with _app_sessions(context) as sessions:
        try:
            promotion = promote_version(
                client=_client(context),
                sessions=sessions,
                name=name,
                version=version,
                actor=actor or _os_user(),
                force=force,
                reason=reason,
            )
        except PromotionRefused as refused:
            _show_gates(refused.gates, failed="FAILED")
            raise click.ClickException(str(refused)) from None
    if promotion.event is None:
        click.echo(f"{name} version {promotion.version} is already in production")
        return
    _show_gates(promotion.gates, failed="FAILED, overridden by --force")
    click.echo(f"{name}@production -> version {promotion.version}")


def _show_gates(gates, *, failed: str) -> None:
    for gate in gates:
        click.echo(
            f"gate {gate.name}: {'passed' if gate.passed else failed}: {gate.detail}", err=True
        )


@models.command("rollback")
@click.argument("name")
@click.option("--reason", default=None, help="Why, for the audit trail.")
@_actor_option
@click.pass_context
def models_rollback(context, name: str, reason: str | None, actor: str | None) -> None:
    """Return NAME's production alias to the version it held before, per the audit trail."""
    from app.services.model_lifecycle import rollback_production

    with _app_sessions(context) as sessions:
        event = rollback_production(
            client=_client(context),
            sessions=sessions,
            name=name,
            actor=actor or _os_user(),
            reason=reason,
        )
    click.echo(f"{name}@production -> version {event.to_version} (was {event.from_version})")


@models.command("describe")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")
@click.pass_context
def models_describe(context, name: str, as_json: bool) -> None:
    """NAME's versions, aliases and key figures side by side, then its audit trail."""
    from app.services.model_lifecycle import describe_model

    with _app_sessions(context) as sessions:
        description = describe_model(client=_client(context), sessions=sessions, name=name)
    if as_json:
        click.echo(json.dumps(description.as_dict(), ensure_ascii=False, indent=2))
        return
    _show_description(description)


def _show_description(description: ModelDescription) -> None:
    names = list(dict.fromkeys(n for _, metrics in description.versions for n in metrics))
    rows = [
        [s.version, ", ".join(s.aliases) or "-", _ms_time(s.created_at_ms), s.run_id]
        + [f"{metrics[n]:.3f}" if n in metrics else "-" for n in names]
        for s, metrics in description.versions
    ]
    click.echo(f"{description.name}: versions")
    _show_table(["version", "aliases", "created (UTC)", "run id", *names], rows)
    click.echo(f"\n{description.name}: audit trail")
    if not description.history:
        click.echo("no recorded stage, promote or rollback yet")
        return
    _show_table(
        ["at (UTC)", "action", "alias", "from -> to", "by", "forced", "failed gates", "reason"],
        [
            [
                e.at.strftime("%Y-%m-%d %H:%M:%S"),
                e.action,
                e.alias,
                f"{e.from_version or '-'} -> {e.to_version}",
                e.actor,
                "yes" if e.forced else "no",
                ", ".join(g["name"] for g in e.gates if not g["passed"]) or "-",
                e.reason or "-",
            ]
            for e in description.history
        ],
    )


def _show_table(header: list[str], rows: list[list[str]]) -> None:
    widths = [max(_width(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        cells = [cell + " " * (width - _width(cell)) for cell, width in zip(row, widths)]
        click.echo("  ".join(cells).rstrip())


def _width(text: str) -> int:
    """Columns ``text`` takes in a terminal: Chinese characters take two."""
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _ms_time(milliseconds: int) -> str:
    return datetime.fromtimestamp(milliseconds / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name (a container without a passwd entry)
        return "unknown"


def _client(context: click.Context):
    return context.ensure_object(Settings).mlflow_store().activate()


def _app_sessions(context: click.Context):
    """Sessions on the app database, which must be migrated to the head revision."""
    from app.db.migrations import migrated_sessions

    return migrated_sessions(context.ensure_object(Settings).app_database_url())
