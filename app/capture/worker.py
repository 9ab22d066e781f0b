"""The capture worker: a process of its own that masks captured requests and writes them, with
the customer scores in their answers (``app.capture.scores``).

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

Priority: masking, the bulk of the work, runs on a thread in Linux's idle scheduling class
(``SCHED_IDLE``), on CPU time nothing else wants, so it costs the service least
(docs/request-capture.md). But a saturated machine has no such time, and the buffer fills: the
writer then marks its batches urgent, and this process's main thread masks them at the
service's own priority until the buffer is drained. Two threads, each keeping its class,
because a thread may enter the idle class but not leave it without privileges (RLIMIT_NICE is 0
for most users). On SQLite the main thread also inserts (and prunes), whatever the batch: a
transaction there holds the one lock on the whole file, and a thread in the idle class could
hold it for seconds on a saturated machine while every other writer (a PUT of a customer)
waited behind it and timed out (bench.soak saw 10% of a mixed load answer 503). PostgreSQL
locks rows, and nothing else writes these.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass
from functools import partial
from multiprocessing.connection import Connection
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DataError, IntegrityError, SQLAlchemyError

from app.capture.buffer import RawCapture
from app.capture.records import captured_row
from app.capture.retention import prune_captures
from app.capture.scores import record_scores, score_rows
from app.db.models import CapturedRequest
from app.db.session import create_engine_for
from app.db.upsert import insert_new_statement

# Short waits on a locked SQLite file or an unreachable server: the writer retries soon
# anyway, and a stopping service must not hang behind one.
SQLITE_LOCK_WAIT_S, CONNECT_TIMEOUT_S = 2, 3
SQLITE_STATEMENTS_KEPT = 4


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
            connection.send(_handle(engine, request, idle))
    finally:
        idle.shutdown()
        engine.dispose()


def _handle(engine: Engine, request: tuple[Any, ...], idle: ThreadPoolExecutor) -> tuple[Any, ...]:
    kind, payload = request[:2]
    urgent = len(request) > 2 and bool(request[2])

    def in_idle_class(work: Callable[[], Any]) -> Any:
        return work() if urgent else idle.submit(work).result()

    def here(work: Callable[[], Any]) -> Any:
        return work()

    in_transaction = here if engine.dialect.name == "sqlite" else in_idle_class
    try:
        if kind == "write":
            batch = in_idle_class(partial(prepare_batch, payload))
            return ("written", *in_transaction(partial(store_batch, engine, batch)))
        return ("pruned", in_transaction(partial(prune_captures, engine, retention_days=payload)))
    except SQLAlchemyError as error:
        # The class only: a statement error's text quotes the statement's parameters.
        return ("failed", type(getattr(error, "orig", None) or error).__name__)


@dataclass(frozen=True)
class PreparedBatch:
    """A batch ready to store: its masked rows, how many entries were rejected (an entry that
    fails to mask is rejected rather than stored unmasked), and the customer scores in it."""

    rows: list[dict[str, Any]]
    rejected: int
    scores: list[dict[str, Any]]


def write_batch(engine: Engine, entries: list[RawCapture]) -> tuple[int, int]:
    """Mask and insert ``entries``; (written, rejected). Rows stored already (by capture id)
    are neither: a batch written twice stores each row once."""
    return store_batch(engine, prepare_batch(entries))


def prepare_batch(entries: list[RawCapture]) -> PreparedBatch:
    masked = [(entry, row) for entry in entries if (row := _masked_row(entry)) is not None]
    scores = [score for entry, _ in masked for score in score_rows(entry)]  # stored ones only
    return PreparedBatch([row for _, row in masked], len(entries) - len(masked), scores)


def store_batch(engine: Engine, batch: PreparedBatch) -> tuple[int, int]:
    """Insert the batch's rows in one transaction, then record its customer scores in
    another; (written, rejected)."""
    written, rejected = insert_rows(engine, batch.rows, batch.rejected)
    with suppress(DataError, IntegrityError):  # a customer deleted meanwhile: the next answer
        record_scores(engine, batch.scores)
    return written, rejected


def insert_rows(engine: Engine, rows: list[dict[str, Any]], rejected: int = 0) -> tuple[int, int]:
    """Insert masked rows in one transaction; (written, rejected so far plus those the
    database refuses: a value it cannot store, found one by one)."""
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
        # A batch of another size is another statement, and sqlite3 keeps 128 prepared ones by
        # default: over 100 MB in this process (bench.soak saw its memory climb for minutes).
        connect_args = {"timeout": SQLITE_LOCK_WAIT_S, "cached_statements": SQLITE_STATEMENTS_KEPT}
        return create_engine_for(database_url, connect_args=connect_args)
    return create_engine_for(database_url, connect_args={"connect_timeout": CONNECT_TIMEOUT_S})


if __name__ == "__main__":
    # Ctrl-C reaches the whole process group: the service stops this worker itself, after
    # writing what is pending.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    serve(Connection(int(sys.argv[1])))
