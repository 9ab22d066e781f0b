"""The capture writer: a thread that sends captured requests, in batches, to the capture
worker process, which masks and writes them (``app.capture.worker``, where the reason for a
process is measured).

Off the request path by design: the request path only appends bytes to the buffer. Each
batch is one transaction. When the database is down or slow the writer retries with backoff
and entries wait in the buffer (bounded; past the bound new ones are dropped and counted);
the outage is logged once when it starts and once when it ends, with the count dropped.
Drops are logged as they start and then once a minute, with the count, while they go on.

A batch leaves the buffer only once the worker says it is committed. When the worker dies
first (killed, or crashed), the log says so, a new worker is started and the same batch is
sent again: its rows carry unique capture ids, so those already committed are not stored
twice.
"""

from __future__ import annotations

import logging
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from app.capture.buffer import CaptureBuffer
from app.core.metrics import CAPTURE_PENDING, CAPTURE_REJECTED, CAPTURE_WRITTEN, MULTIPROCESS

logger = logging.getLogger(__name__)

RETRY_FIRST_S, RETRY_MAX_S = 0.25, 5.0
PRUNE_EVERY_S = 3600.0


class CaptureFailed(Exception):
    """The worker could not write a batch (the database is down or slow), or is gone."""


class WorkerDied(CaptureFailed):
    """The worker process ended while it had a request: killed, or crashed."""


@dataclass(frozen=True)
class WriterPolicy:
    batch_size: int = 2000
    batch_bytes: int = 4 * 1024 * 1024  # the worker holds a batch a few times over
    flush_interval_s: float = 1.0
    retention_days: int = 30
    shutdown_timeout_s: float = 5.0
    # Batches are urgent (written at the service's priority, not in the idle class) from
    # when the buffer is this full until it is back under ``calm_below``.
    urgent_above: float = 0.05
    calm_below: float = 0.01
    drop_log_interval_s: float = 60.0


def writes_urgently(policy: WriterPolicy, *, urgent: bool, fill: float) -> bool:
    """Whether the next batch is urgent, given whether the last one was and how full (0 to 1)
    the buffer is: the idle class gets no CPU on a saturated machine, and the buffer fills."""
    return fill >= policy.urgent_above or (urgent and fill > policy.calm_below)


def describe_exit(process: subprocess.Popen[bytes] | None) -> str:
    """How a worker process ended, for the log."""
    if process is None:
        return "the capture worker could not be started"
    code = process.returncode
    if code is None:
        how = "stopped answering"
    elif code < 0:
        try:
            how = f"was killed ({signal.Signals(-code).name})"
        except ValueError:
            how = f"was killed (signal {-code})"
    else:
        how = f"exited (status {code})"
    return f"the capture worker (pid {process.pid}) {how}"


class CaptureWorker:
    """The worker process, started on first use and again after it dies."""

    def __init__(self, database_url: str):
        self._database_url = database_url
        self._process: subprocess.Popen[bytes] | None = None
        self._connection: Connection | None = None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def call(self, request: tuple[Any, ...]) -> tuple[Any, ...]:
        try:
            self._ensure_running()
            assert self._connection is not None
            self._connection.send(request)
            reply = self._connection.recv()
        except (EOFError, OSError) as error:
            raise WorkerDied(self._reap()) from error
        if reply[0] == "failed":
            raise CaptureFailed(reply[1])
        return reply

    def stop(self, *, timeout_s: float) -> None:
        process, connection, self._process, self._connection = (
            self._process,
            self._connection,
            None,
            None,
        )
        if process is None or connection is None:
            return
        try:
            connection.send(None)
            process.wait(timeout_s)
        except (OSError, subprocess.TimeoutExpired):
            process.kill()
            process.wait()
        finally:
            connection.close()

    def _ensure_running(self) -> None:
        if self._process is not None and self._process.poll() is not None:
            # Gone between two requests: nothing was lost, but it must not pass unseen.
            logger.warning("capture: %s; restarting it", self._reap())
        if self._process is None:
            self._start()

    def _reap(self) -> str:
        """Let go of a worker that is gone (or no longer answers); how it ended."""
        process = self._process
        self.stop(timeout_s=1)
        return describe_exit(process)

    def _start(self) -> None:
        ours, theirs = socket.socketpair()
        self._process = subprocess.Popen(
            [sys.executable, "-m", "app.capture.worker", str(theirs.fileno())],
            pass_fds=[theirs.fileno()],
            stdin=subprocess.DEVNULL,
        )
        theirs.close()
        self._connection = Connection(ours.detach())
        self._connection.send(self._database_url)


class DropLog:
    """When to say how many entries the full buffer dropped: as soon as drops start, then at
    most once per ``interval_s``, with the count since the line before, while they go on."""

    def __init__(self, interval_s: float, clock: Callable[[], float] = time.monotonic):
        self._interval_s = interval_s
        self._clock = clock
        self._reported = 0  # the buffer's drop count at the last line
        self._said_at: float | None = None

    def due(self, dropped: int) -> int:
        """The drops to report now, given the buffer's running count; 0: nothing to say yet."""
        new, now = dropped - self._reported, self._clock()
        if new <= 0 or (self._said_at is not None and now - self._said_at < self._interval_s):
            return 0
        self._reported, self._said_at = dropped, now
        return new


class CaptureWriter:
    """Writes what ``buffer`` holds to the database at ``database_url``, from its own thread."""

    def __init__(
        self,
        buffer: CaptureBuffer,
        database_url: str,
        policy: WriterPolicy,
        *,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.buffer = buffer
        self.policy = policy
        self._worker = CaptureWorker(database_url)
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="capture-writer", daemon=True)
        self._retry_s = RETRY_FIRST_S
        self._outage_since: float | None = None
        self._dropped_seen = 0  # the drop count when the buffer was last caught up
        self._drop_log = DropLog(policy.drop_log_interval_s, clock)
        self._urgent = False

    def start(self) -> None:
        if not MULTIPROCESS:
            # Exact at every scrape. Other workers cannot call a function of this one's
            # buffer, so with several workers ``flush`` sets the value instead.
            CAPTURE_PENDING.set_function(self.buffer.__len__)
        self._thread.start()

    def stop(self) -> int:
        """Flush what is pending within the shutdown deadline; the number left unwritten."""
        self._stopping.set()
        if self._thread.ident is not None:
            self._thread.join(self.policy.shutdown_timeout_s + 1)
        left = len(self.buffer)
        if left:
            logger.warning("capture: %d captured requests could not be written at shutdown", left)
        # A worker still stuck on the database is killed; its thread then sees it gone.
        self._worker.stop(timeout_s=0 if self._thread.is_alive() else 1)
        return left

    def _run(self) -> None:
        next_prune = 0.0
        while not self._stopping.is_set():
            healthy = self.flush()
            if healthy and self.policy.retention_days and time.monotonic() >= next_prune:
                self._prune()
                next_prune = time.monotonic() + PRUNE_EVERY_S
            self._stopping.wait(self.policy.flush_interval_s if healthy else self._next_retry_s())
        self._drain(time.monotonic() + self.policy.shutdown_timeout_s)

    def flush(self) -> bool:
        """Write the entries pending now, a batch per transaction; False if the database failed.

        Entries that arrive meanwhile wait for the next flush: chasing them would shrink the
        batches to a few entries each, and the round trips would cost the service more than
        the writing (measured: +55% CPU per request instead of +5%).
        """
        healthy = self._write_pending()
        CAPTURE_PENDING.set(len(self.buffer))  # what a scrape shows with several workers
        return healthy

    def _write_pending(self) -> bool:
        self._report_drops()
        waiting = len(self.buffer)
        while waiting > 0:
            try:
                written = self._write_head_batch()
            except Exception as error:  # an outage, a dead worker, or a bug: retry later
                self._on_failure(error)
                return False
            if not written:  # emptied meanwhile (never by the writer's own hand today)
                break
            waiting -= written
        self._on_caught_up()
        return True

    def _write_head_batch(self) -> int:
        """Write the oldest batch; how many entries it held."""
        entries = self.buffer.peek(self.policy.batch_size, self.policy.batch_bytes)
        self._urgent = writes_urgently(self.policy, urgent=self._urgent, fill=self.buffer.fill())
        urgent = self._urgent or self._stopping.is_set()  # a stopping service has a deadline
        _, written, rejected = self._worker.call(("write", entries, urgent))
        CAPTURE_WRITTEN.inc(written)
        if rejected:
            CAPTURE_REJECTED.inc(rejected)
            logger.warning("capture: %d captured requests could not be masked or stored", rejected)
        self.buffer.discard(len(entries))
        self._retry_s = RETRY_FIRST_S
        return len(entries)

    def _on_failure(self, error: Exception) -> None:
        if isinstance(error, WorkerDied):
            logger.warning(
                "capture: %s; restarting it and sending its batch again (rows it had stored "
                "are not stored twice)",
                error,
            )
            return
        if self._outage_since is not None:
            return
        self._outage_since = time.monotonic()
        if isinstance(error, CaptureFailed):
            logger.warning(
                "capture: the app database is unavailable (%s); captured requests wait in the "
                "buffer (%d of at most %d)",
                error,
                len(self.buffer),
                self.buffer.bound,
            )
        else:
            logger.exception("capture: writing captured requests failed; retrying")

    def _on_caught_up(self) -> None:
        dropped, self._dropped_seen = self.buffer.dropped - self._dropped_seen, self.buffer.dropped
        if self._outage_since is None:
            return
        logger.warning(
            "capture: the app database is back after %.1f s; every waiting request is written, "
            "%d were dropped meanwhile",
            time.monotonic() - self._outage_since,
            dropped,
        )
        self._outage_since = None

    def _report_drops(self) -> None:
        dropped = self._drop_log.due(self.buffer.dropped)
        if dropped:
            logger.warning(
                "capture: the buffer is full (at most %d entries, %d MiB); %d captured requests "
                "dropped in the last minute (insight_capture_dropped_total counts them all)",
                self.buffer.bound,
                self.buffer.max_bytes // (1024 * 1024),
                dropped,
            )

    def _next_retry_s(self) -> float:
        wait, self._retry_s = self._retry_s, min(self._retry_s * 2, RETRY_MAX_S)
        return wait

    def _prune(self) -> None:
        try:
            _, deleted = self._worker.call(("prune", self.policy.retention_days))
        except CaptureFailed as error:
            logger.warning("capture: pruning old captures failed (%s)", error)
            return
        if deleted:
            logger.info("capture: deleted %d captured requests past the retention", deleted)

    def _drain(self, deadline: float) -> None:
        while len(self.buffer) and time.monotonic() < deadline:
            if not self.flush():
                time.sleep(min(RETRY_FIRST_S, max(0.0, deadline - time.monotonic())))
