"""``insight monitor``: how the production models fare on real traffic (docs/monitoring.md)."""

from __future__ import annotations

import click

from app.commands.drift import drift
from app.commands.quality import quality


@click.group()
def monitor() -> None:
    """Live quality against feedback, and drift of traffic from what the models learned."""


monitor.add_command(quality)
monitor.add_command(drift)
