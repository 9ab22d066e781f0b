"""The state of each part the service relies on, since when, and why it is down.

``/readyz`` reports them. A state changes on a real outcome (a load, a registry check, the
worker's database probe, a request that met the database down), and a component going down or
coming back is logged once, never once per request. An error is named by its type only: an
exception's message may quote customer data or SQL parameters.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

logger = logging.getLogger(__name__)

State = Literal["ready", "loading", "down"]


@dataclass(frozen=True)
class ComponentState:
    """A component's state, since when it holds, and (when down) what went wrong."""

    state: State
    since: datetime
    error: str | None = None


class Component:
    """One part the service relies on (the models, the app database, the registry)."""

    def __init__(
        self, name: str, state: State = "loading", *, down_note: str = "", back_note: str = ""
    ):
        self.name = name
        self.down_note = down_note  # what a reader of the log should know: what still works
        self.back_note = back_note
        self._lock = threading.Lock()
        self._current = ComponentState(state, datetime.now(UTC))
        self._down_at = 0.0

    @property
    def current(self) -> ComponentState:
        return self._current

    @property
    def is_down(self) -> bool:
        return self._current.state == "down"

    def ready(self) -> None:
        """It answers as it should."""
        self._change("ready")

    def loading(self) -> None:
        """Not checked yet, or its first load is under way."""
        self._change("loading")

    def down(self, error: BaseException | str) -> None:
        """It failed; ``error`` is an exception (named by its type) or a short reason."""
        self._change("down", error if isinstance(error, str) else error_name(error))

    def _change(self, state: State, error: str | None = None) -> None:
        with self._lock:
            before = self._current
            if (before.state, before.error) == (state, error):
                return
            since = before.since if before.state == state else datetime.now(UTC)
            self._current = ComponentState(state, since, error)
            if state == before.state:  # only the reason changed: nothing to log
                return
            if state == "down":
                self._down_at = time.monotonic()
                logger.warning(
                    "worker %s: %s down (%s)%s",
                    os.getpid(),
                    self.name,
                    error,
                    _note(self.down_note),
                )
            elif before.state == "down":
                logger.warning(
                    "worker %s: %s back after %.1f s%s",
                    os.getpid(),
                    self.name,
                    time.monotonic() - self._down_at,
                    _note(self.back_note),
                )


def error_name(error: BaseException) -> str:
    """The type of the error behind ``error`` (the driver's, for a SQLAlchemy wrapper)."""
    return type(getattr(error, "orig", None) or error).__name__


def _note(note: str) -> str:
    return f"; {note}" if note else ""
