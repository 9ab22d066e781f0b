"""One worker's link to the rest of the deployment, through the app database.

Every worker process (several under ``make run``, on one host or many) runs a ``WorkerSync``
thread that, every ``interval_s``:

- re-reads the usable API keys into the worker's ``Keyring`` (a revoked key stops working in
  every worker within about one interval) and stores when keys were last used;
- keeps this worker's row in ``service_workers`` alive (a heartbeat);
- looks for admin refreshes asked of another worker (``refresh`` rows in ``model_events``)
  and carries them out, then marks the row's id as done.

Each round is also the worker's probe of the app database: a failed round marks it down
(``/readyz`` says so, customer calls answer 503 at once), the next good round marks it back.

The admin refresh records its ``refresh`` event, checks the registry in its own worker, then
waits for every live worker to confirm it.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from app.core.errors import is_database_unavailable
from app.core.health import Component, error_name
from app.core.security import Keyring
from app.db.base import utc_now
from app.db.models import ModelEvent, ServiceWorker
from app.db.session import session_scope
from app.services.api_keys import record_last_used, usable_keys

logger = logging.getLogger(__name__)

REFRESH = "refresh"
EVERY_MODEL = "*"
HEARTBEAT_S = 1.0
LIVE_WITHIN_S = 5.0  # a worker not seen for this long is taken for dead
FORGET_AFTER = timedelta(hours=1)  # rows of dead workers are deleted after this
CONFIRM_POLL_S = 0.1


@dataclass(frozen=True)
class RefreshConfirmation:
    """How many of the deployment's live workers have carried out a refresh."""

    confirmed: int
    live: int


class WorkerSync:
    """Keeps a worker's keys and models in step with the rest of the deployment."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        keyring: Keyring,
        refresh_models: Callable[[], object],
        *,
        interval_s: float,
        database: Component | None = None,
    ):
        self.sessions = sessions
        self.keyring = keyring
        self.refresh_models = refresh_models
        self.interval_s = interval_s
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self._refresh_done = 0  # the latest refresh carried out here
        self._refresh_taken = 0  # the latest refresh started here (by the admin call or us)
        self._refreshing = threading.Lock()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="worker-sync", daemon=True)
        self._beat_at = 0.0
        self.database = database or Component("app_database")
        self._failed_with: str | None = None  # a round's last failure that was not the database

    def start(self) -> None:
        """Read the keys and join the deployment now (the service serves none before), then
        keep in step on a thread."""
        with session_scope(self.sessions) as session:
            self.keyring.replace(usable_keys(session))
            # The models load fresh: no refresh asked before now is left to do.
            self._refresh_done = self._refresh_taken = _latest_refresh(session)
            session.add(self._row())
        self._beat_at = time.monotonic()
        self.database.ready()
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop the thread and leave the deployment (other workers stop waiting for us)."""
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(timeout_s)
        try:
            with session_scope(self.sessions) as session:
                session.execute(
                    delete(ServiceWorker).where(ServiceWorker.worker_id == self.worker_id)
                )
        except Exception:  # the database is down: our row ages out instead
            logger.warning("worker %s could not leave the deployment's table", os.getpid())

    def _row(self) -> ServiceWorker:
        """This worker's row in ``service_workers``."""
        return ServiceWorker(
            worker_id=self.worker_id,
            host=socket.gethostname(),
            pid=os.getpid(),
            refresh_done=self._refresh_done,
        )

    def announce_refresh(self, *, actor: str) -> int:
        """Record an admin refresh asked of this worker; the event's id, for the others."""
        with session_scope(self.sessions) as session:
            event = ModelEvent(
                model_name=EVERY_MODEL,
                action=REFRESH,
                alias=EVERY_MODEL,
                from_version=None,
                to_version=None,
                actor=actor,
            )
            session.add(event)
            session.flush()
            event_id = event.id
        self._refresh_taken = max(self._refresh_taken, event_id)  # this worker's own to do
        return event_id

    def mark_refreshed(self, event_id: int) -> None:
        """Say this worker has carried out the refresh ``event_id`` (and every one before)."""
        self._refresh_done = max(self._refresh_done, event_id)
        with session_scope(self.sessions) as session:
            session.execute(
                update(ServiceWorker)
                .where(ServiceWorker.worker_id == self.worker_id)
                .values(refresh_done=self._refresh_done, seen_at=utc_now())
            )

    def wait_for_workers(self, event_id: int, *, timeout_s: float) -> RefreshConfirmation:
        """Wait until every live worker has carried out ``event_id``, or ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        while True:
            confirmation = self._confirmation(event_id)
            if confirmation.confirmed >= confirmation.live or time.monotonic() >= deadline:
                return confirmation
            time.sleep(CONFIRM_POLL_S)

    def _confirmation(self, event_id: int) -> RefreshConfirmation:
        live_since = utc_now() - timedelta(seconds=LIVE_WITHIN_S)
        with session_scope(self.sessions) as session:
            rows = session.execute(
                select(ServiceWorker.refresh_done).where(ServiceWorker.seen_at >= live_since)
            ).all()
        return RefreshConfirmation(sum(1 for (done,) in rows if done >= event_id), len(rows))

    def _run(self) -> None:
        while not self._stopping.wait(self.interval_s):
            try:
                self.sync()
            except Exception as error:
                self._on_failure(error)
            else:
                self.database.ready()
                self._failed_with = None

    def sync(self) -> None:
        """One round: keys in, last-used out, a heartbeat, and refreshes asked elsewhere."""
        with session_scope(self.sessions) as session:
            self.keyring.replace(usable_keys(session))
            record_last_used(session, self.keyring.take_last_used())
            wanted = _latest_refresh(session)
            if time.monotonic() - self._beat_at >= HEARTBEAT_S:
                self._heartbeat(session)
        if wanted > self._refresh_taken and not self._refreshing.locked():
            self._refresh_taken = wanted
            threading.Thread(
                target=self._refresh, args=(wanted,), name="worker-refresh", daemon=True
            ).start()

    def _heartbeat(self, session: Session) -> None:
        now = utc_now()
        beat = update(ServiceWorker).where(ServiceWorker.worker_id == self.worker_id)
        if not session.execute(beat.values(seen_at=now)).rowcount:  # aged out: join again
            session.add(self._row())
        session.execute(delete(ServiceWorker).where(ServiceWorker.seen_at < now - FORGET_AFTER))
        self._beat_at = time.monotonic()

    def _on_failure(self, error: Exception) -> None:
        if is_database_unavailable(error):  # keep the keys we have; logged once, when it changes
            self.database.down(error)
        elif type(error).__name__ != self._failed_with:  # a bug: say so once, not every round
            self._failed_with = type(error).__name__
            logger.error("worker %s: a sync round failed: %s", os.getpid(), error_name(error))

    def _refresh(self, event_id: int) -> None:
        """Carry out a refresh asked of another worker (on a thread: a swap takes seconds,
        and the keys must keep being read meanwhile)."""
        with self._refreshing:
            try:
                self.refresh_models()
                self.mark_refreshed(event_id)
            except Exception:
                logger.exception("worker %s: the refresh asked elsewhere failed", os.getpid())


def _latest_refresh(session: Session) -> int:
    latest = session.scalar(select(func.max(ModelEvent.id)).where(ModelEvent.action == REFRESH))
    return latest or 0
