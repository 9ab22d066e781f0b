"""The capture worker: a process of its own that masks captured requests and writes them.

Masking and inserting are Python work. On a thread of the service they would share its GIL,
and each hand-over of the GIL between the event loop and that thread costs both: measured
with bench/capture.py, a writer thread cost the service 250 µs of CPU per request and a
quarter of its throughput. Here they run in another interpreter; the service only sends the
raw bytes over a socket (``CaptureWriter`` starts this module, and again if it dies).

Requests, each answered once: the database URL first (not in argv, where ``ps`` shows it);
then ``("write", [RawCapture, ...], urgent)`` -> ``("written", written, rejected)``,
``("prune", days)`` -> ``("pruned", deleted)``, either -> ``("failed", error class)``;
``None`` stops the worker.

Writes are idempotent: each row carries the capture id made on the request path, unique in
the table, and a row whose id is stored already is skipped. The writer resends a batch whose
answer it never got (this process killed after its commit), and the copy adds nothing.

Priority: the work runs on a thread in Linux's idle scheduling class (``SCHED_IDLE``), on CPU
time nothing else wants, so it costs the service least (docs/request-capture.md). But a
saturated machine has no such time, and the buffer fills: the writer then marks its batches
urgent, and this process's main thread writes them at the service's own priority until the
buffer is drained. Two threads, each keeping its class, because a thread may enter the idle
class but not leave it without privileges (RLIMIT_NICE is 0 for most users).
"""

from __future__ import annotations

import os
import signal
import sys
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.connection import Connection
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DataError, IntegrityError, SQLAlchemyError

from app.capture.buffer import RawCapture
from app.capture.records import captured_row
from app.capture.retention import prune_captures
from app.db.models import CapturedRequest
from app.db.session import create_engine_for
from app.db.upsert import insert_new_statement

# Short waits on a locked SQLite file or an unreachable server: the writer retries soon
# anyway, and a stopping service must not hang behind one.
SQLITE_LOCK_WAIT_S, CONNECT_TIMEOUT_S = 2, 3


def serve(connection: Connection) -> None:
    """Answer requests on ``connection`` until told to stop or the service goes away."""
    engine = writer_engine(connection.recv())
    idle = ThreadPoolExecutor(1, thread_name_prefix="capture-idle", initializer=run_when_idle)
    try:
        while True:
            try:
                request = connection.recv()
            except EOFError:
                return
            if request is None:
                return
            if _is_urgent(request):
                connection.send(_handle(engine, request))
            else:
                connection.send(idle.submit(_handle, engine, request).result())
    finally:
        idle.shutdown()
        engine.dispose()


def _is_urgent(request: tuple[Any, ...]) -> bool:
    return request[0] == "write" and len(request) > 2 and bool(request[2])


def _handle(engine: Engine, request: tuple[Any, ...]) -> tuple[Any, ...]:
    kind, payload = request[:2]
    try:
        if kind == "write":
            return ("written", *write_batch(engine, payload))
        return ("pruned", prune_captures(engine, retention_days=payload))
    except SQLAlchemyError as error:
        # The class only: a statement error's text quotes the statement's parameters.
        return ("failed", type(getattr(error, "orig", None) or error).__name__)


def write_batch(engine: Engine, entries: list[RawCapture]) -> tuple[int, int]:
    """Mask and insert ``entries`` in one transaction; (written, rejected). Rows stored
    already (by capture id) are neither: a batch written twice stores each row once.

    Rows the database refuses (a value it cannot store) are found one by one and rejected;
    an entry that fails to mask is rejected rather than stored unmasked.
    """
    rows = [row for entry in entries if (row := _masked_row(entry)) is not None]
    rejected = len(entries) - len(rows)
    try:
        return _insert(engine, rows), rejected
    except (DataError, IntegrityError):
        written = 0
        for row in rows:
            try:
                written += _insert(engine, [row])
            except (DataError, IntegrityError):
                rejected += 1
        return written, rejected


def _masked_row(entry: RawCapture) -> dict[str, Any] | None:
    try:
        return captured_row(entry)
    except Exception:  # never store what could not be masked
        return None


def _insert(engine: Engine, rows: list[dict[str, Any]]) -> int:
    """Insert the rows whose capture id is new; how many that was."""
    if not rows:
        return 0
    table = CapturedRequest.__table__
    statement = insert_new_statement(table, engine.dialect.name, key=["capture_id"])
    with engine.begin() as connection:
        return len(connection.execute(statement.returning(table.c.id), rows).all())


def run_when_idle() -> None:
    """Put the calling thread in Linux's idle scheduling class (SCHED_IDLE, a per-thread
    policy): it runs only when no other thread wants the CPU, so it never takes a core from
    the service or its clients. Elsewhere, the lowest priority."""
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    except (AttributeError, OSError):  # not Linux, or a sandbox that forbids it
        os.nice(19)


def writer_engine(database_url: str) -> Engine:
    if make_url(database_url).get_backend_name() == "sqlite":
        # Two threads take turns with the pool's connections (never at once).
        connect_args: dict[str, Any] = {"timeout": SQLITE_LOCK_WAIT_S, "check_same_thread": False}
        return create_engine_for(database_url, connect_args=connect_args)
    return create_engine_for(database_url, connect_args={"connect_timeout": CONNECT_TIMEOUT_S})


if __name__ == "__main__":
    # Ctrl-C reaches the whole process group: the service stops this worker itself, after
    # writing what is pending.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    serve(Connection(int(sys.argv[1])))
