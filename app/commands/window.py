"""The ``--since`` / ``--until`` of the commands that read a window of captured requests or
feedback: an ISO 8601 time, UTC unless it names an offset, or a span ago."""

from __future__ import annotations

from datetime import datetime

import click

from app.replay.selection import SelectionError, parse_time


class WindowTime(click.ParamType):
    """An ISO 8601 time (UTC unless it names an offset) or a span ago: 30m, 24h, 7d."""

    name = "time"

    def convert(self, value, param, ctx) -> datetime:
        if isinstance(value, datetime):
            return value
        try:
            return parse_time(value)
        except SelectionError as error:
            self.fail(str(error), param, ctx)
