"""``insight monitor``: how the production models fare on real traffic (docs/monitoring.md)."""

from __future__ import annotations

import click


@click.group()
def monitor() -> None:
    """Live quality against feedback, and drift of traffic from what the models learned."""
