"""Capture writes are idempotent: a batch written twice stores each row once (SQLite and
PostgreSQL), and a dead worker is named in the log, restarted, and its batch sent again."""

import logging
import os
import signal
import threading
import time

import orjson

from app.capture.buffer import CaptureBuffer, RawCapture
from app.capture.worker import write_batch, writer_engine
from app.capture.writer import CaptureWriter, WriterPolicy
from tests.capture.conftest import captured_rows


def _raw(request_id: str, capture_id: int) -> RawCapture:
    return RawCapture(
        request_id=request_id,
        endpoint="/v1/demands/classify",
        body=orjson.dumps({"text": "宽带断网三天了"}),
        answer=orjson.dumps({"results": [], "models": []}),
        status=200,
        latency_ms=1.0,
        received_at=time.time(),
        capture_id=capture_id,
    )


def test_writing_the_same_batch_twice_stores_each_row_once(migrated_url):
    entries = [_raw(f"r{i}", i + 1) for i in range(5)]
    engine = writer_engine(migrated_url)
    try:
        assert write_batch(engine, entries) == (5, 0)
        assert write_batch(engine, entries) == (0, 0)  # neither written nor rejected
        assert write_batch(engine, [*entries[3:], _raw("r5", 6)]) == (1, 0)
    finally:
        engine.dispose()
    rows = captured_rows(migrated_url)
    assert [row.request_id for row in rows] == [f"r{i}" for i in range(6)]
    assert len({row.capture_id for row in rows}) == 6


def test_a_batch_sent_again_after_its_commit_is_stored_once(migrated_url):
    """The worker committed the batch and died before it could say so: the writer, which
    never heard back, sends the same batch to the next worker."""
    buffer = CaptureBuffer(100)
    for i in range(4):
        buffer.put(_raw(f"r{i}", buffer.ids.new()))
    engine = writer_engine(migrated_url)
    try:
        write_batch(engine, buffer.peek(100))  # the commit whose answer was lost
    finally:
        engine.dispose()
    writer = CaptureWriter(buffer, migrated_url, WriterPolicy())
    try:
        assert writer.flush() is True
    finally:
        writer.stop()
    assert len(buffer) == 0
    assert [row.request_id for row in captured_rows(migrated_url)] == [f"r{i}" for i in range(4)]


def _wait_until_dead(writer: CaptureWriter, timeout_s: float = 10) -> None:
    """Until the killed worker has exited: every thread of it, not only the main one."""
    process = writer._worker._process
    assert process is not None
    deadline = time.monotonic() + timeout_s
    while process.poll() is None:
        assert time.monotonic() < deadline, f"process {process.pid} still runs"
        time.sleep(0.01)


def test_a_worker_killed_between_batches_is_named_and_restarted(migrated_url, caplog):
    caplog.set_level(logging.WARNING, logger="app.capture")
    buffer = CaptureBuffer(100)
    writer = CaptureWriter(buffer, migrated_url, WriterPolicy())
    try:
        buffer.put(_raw("r0", buffer.ids.new()))
        assert writer.flush() is True
        pid = writer._worker.pid
        os.kill(pid, signal.SIGKILL)
        _wait_until_dead(writer)
        buffer.put(_raw("r1", buffer.ids.new()))
        assert writer.flush() is True
        assert writer._worker.pid != pid
    finally:
        writer.stop()
    assert f"the capture worker (pid {pid}) was killed (SIGKILL); restarting" in caplog.text
    assert "unavailable" not in caplog.text
    assert [row.request_id for row in captured_rows(migrated_url)] == ["r0", "r1"]


def test_a_worker_killed_during_a_batch_is_named_and_the_batch_sent_again(migrated_url, caplog):
    caplog.set_level(logging.WARNING, logger="app.capture")
    buffer = CaptureBuffer(100)
    writer = CaptureWriter(buffer, migrated_url, WriterPolicy())
    try:
        buffer.put(_raw("r0", buffer.ids.new()))
        assert writer.flush() is True
        pid = writer._worker.pid
        os.kill(pid, signal.SIGSTOP)  # it will not answer the next batch...
        buffer.put(_raw("r1", buffer.ids.new()))
        flushed: list[bool] = []
        flushing = threading.Thread(target=lambda: flushed.append(writer.flush()))
        flushing.start()
        time.sleep(0.2)  # ...which the writer has most likely sent by now (either way is fine)
        os.kill(pid, signal.SIGKILL)
        flushing.join(30)
        assert not flushing.is_alive()
        deadline = time.monotonic() + 30
        while len(buffer) and time.monotonic() < deadline:
            writer.flush()
            time.sleep(0.05)
    finally:
        writer.stop()
    assert f"the capture worker (pid {pid}) was killed (SIGKILL)" in caplog.text
    assert "unavailable" not in caplog.text
    assert [row.request_id for row in captured_rows(migrated_url)] == ["r0", "r1"]
