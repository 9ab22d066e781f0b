"""The capture worker: a process of its own that masks captured requests and writes them.

Masking and inserting are Python work. On a thread of the service they would share its GIL,
and each hand-over of the GIL between the event loop and that thread costs both: measured
with bench/capture.py, a writer thread cost the service 250 µs of CPU per request and a
quarter of its throughput. Here they run in another interpreter; the service only sends the
raw bytes over a socket (``CaptureWriter`` starts this module, and again if it dies).

Requests, each answered once: the database URL first (not in argv, where ``ps`` shows it);
then ``("write", [RawCapture, ...])`` -> ``("written", written, rejected)``,
``("prune", days)`` -> ``("pruned", deleted)``, either -> ``("failed", error class)``;
``None`` stops the worker.
"""

from __future__ import annotations

import os
import signal
import sys
from multiprocessing.connection import Connection
from typing import Any

from sqlalchemy import Engine, insert
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DataError, IntegrityError, SQLAlchemyError

from app.capture.buffer import RawCapture
from app.capture.records import captured_row
from app.capture.retention import prune_captures
from app.db.models import CapturedRequest
from app.db.session import create_engine_for

# Short waits on a locked SQLite file or an unreachable server: the writer retries soon
# anyway, and a stopping service must not hang behind one.
SQLITE_LOCK_WAIT_S, CONNECT_TIMEOUT_S = 2, 3


def serve(connection: Connection) -> None:
    """Answer requests on ``connection`` until told to stop or the service goes away."""
    engine = writer_engine(connection.recv())
    try:
        while True:
            try:
                request = connection.recv()
            except EOFError:
                return
            if request is None:
                return
            connection.send(_handle(engine, request))
    finally:
        engine.dispose()


def _handle(engine: Engine, request: tuple[str, Any]) -> tuple[Any, ...]:
    kind, payload = request
    try:
        if kind == "write":
            return ("written", *write_batch(engine, payload))
        return ("pruned", prune_captures(engine, retention_days=payload))
    except SQLAlchemyError as error:
        # The class only: a statement error's text quotes the statement's parameters.
        return ("failed", type(getattr(error, "orig", None) or error).__name__)


def write_batch(engine: Engine, entries: list[RawCapture]) -> tuple[int, int]:
    """Mask and insert ``entries`` in one transaction; (written, rejected).

    Rows the database refuses (a value it cannot store) are found one by one and rejected;
    an entry that fails to mask is rejected rather than stored unmasked.
    """
    rows = [row for entry in entries if (row := _masked_row(entry)) is not None]
    rejected = len(entries) - len(rows)
    try:
        _insert(engine, rows)
        return len(rows), rejected
    except (DataError, IntegrityError):
        written = 0
        for row in rows:
            try:
                _insert(engine, [row])
                written += 1
            except (DataError, IntegrityError):
                rejected += 1
        return written, rejected


def _masked_row(entry: RawCapture) -> dict[str, Any] | None:
    try:
        return captured_row(entry)
    except Exception:  # never store what could not be masked
        return None


def _insert(engine: Engine, rows: list[dict[str, Any]]) -> None:
    if rows:
        with engine.begin() as connection:
            connection.execute(insert(CapturedRequest), rows)


def run_when_idle() -> None:
    """Put this process in Linux's idle scheduling class (SCHED_IDLE): it runs only when no
    other process wants the CPU, so it never takes a core from the service or its clients.
    Elsewhere, the lowest priority."""
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    except (AttributeError, OSError):  # not Linux, or a sandbox that forbids it
        os.nice(19)


def writer_engine(database_url: str) -> Engine:
    if make_url(database_url).get_backend_name() == "sqlite":
        return create_engine_for(database_url, connect_args={"timeout": SQLITE_LOCK_WAIT_S})
    return create_engine_for(database_url, connect_args={"connect_timeout": CONNECT_TIMEOUT_S})


if __name__ == "__main__":
    # Ctrl-C reaches the whole process group: the service stops this worker itself, after
    # writing what is pending.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Only on CPU time nothing else wants: on a busy machine the buffer waits, not the answers.
    run_when_idle()
    serve(Connection(int(sys.argv[1])))
