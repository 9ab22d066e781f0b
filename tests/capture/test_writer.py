"""The buffer and the writer, against a real app database (SQLite, and PostgreSQL when set)."""

import os
import time
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from app.capture.buffer import CaptureBuffer, RawCapture
from app.capture.masking import NAME, PHONE
from app.capture.retention import prune_captures
from app.capture.writer import CaptureWorker, CaptureWriter, WriterPolicy
from app.cli import main
from app.db import create_engine_for
from app.db.models import CapturedRequest
from tests.capture.conftest import captured_rows, raw_capture

ANSWER = {
    "results": [{"category": "网络信号", "confidence": 0.9}],
    "models": [
        {"name": "demand-classifier", "version": "3", "alias": "staging"},
        {"name": "spam-filter", "version": "1", "alias": "production"},
    ],
}


def _raw(request_id: str, text: str = "我叫张伟，手机13812345678，没信号", **fields) -> RawCapture:
    return raw_capture(request_id, text, default_answer=ANSWER, **({"latency_ms": 1.25} | fields))


def test_the_buffer_keeps_its_bound_exactly_and_counts_what_it_drops():
    buffer = CaptureBuffer(3)
    kept = [buffer.put(_raw(str(i))) for i in range(5)]
    assert kept == [True, True, True, False, False]
    assert len(buffer) == 3 and buffer.dropped == 2
    assert [e.request_id for e in buffer.peek(2)] == ["0", "1"]
    assert len(buffer) == 3  # peeking leaves entries in place until they are written
    buffer.discard(2)
    assert [e.request_id for e in buffer.peek(5)] == ["2"]


def test_the_writer_stores_masked_rows_with_every_field(migrated_url):
    buffer = CaptureBuffer(100)
    for i in range(7):
        buffer.put(_raw(f"r{i}"))
    buffer.put(_raw("bad-json", body=b'{"text": "13812345678', status=400, answer=b""))
    writer = CaptureWriter(buffer, migrated_url, WriterPolicy(batch_size=3))
    assert writer.flush() is True
    writer.stop()
    rows = captured_rows(migrated_url)
    assert [row.request_id for row in rows] == [*(f"r{i}" for i in range(7)), "bad-json"]
    first = rows[0]
    assert first.endpoint == "/v1/demands/classify"
    assert first.body == {"text": f"我叫{NAME}，手机{PHONE}，没信号"}
    assert first.answer == ANSWER
    assert first.model_versions == ANSWER["models"]
    assert first.latency_ms == 1.25 and first.status == 200
    assert abs(first.captured_at - datetime.now(UTC)) < timedelta(minutes=1)
    assert rows[-1].body == '{"text": "' + PHONE and rows[-1].answer is None
    assert rows[-1].model_versions == []


def test_stopping_writes_what_is_pending(migrated_url):
    buffer = CaptureBuffer(100)
    writer = CaptureWriter(buffer, migrated_url, WriterPolicy(flush_interval_s=3600))
    writer.start()
    for i in range(5):
        buffer.put(_raw(f"r{i}"))
    assert writer.stop() == 0
    assert len(captured_rows(migrated_url)) == 5


def _store_aged_rows(url: str, ages_in_days: list[int], now: datetime) -> None:
    engine = create_engine_for(url)
    with engine.begin() as connection:
        connection.execute(
            sa.insert(CapturedRequest),
            [
                {
                    "request_id": f"{age}d",
                    "endpoint": "/v1/demands/classify",
                    "body": {"text": "x"},
                    "answer": None,
                    "model_versions": [],
                    "latency_ms": 1.0,
                    "status": 200,
                    "captured_at": now - timedelta(days=age, minutes=1),
                }
                for age in ages_in_days
            ],
        )
    engine.dispose()


def test_retention_deletes_rows_older_than_the_setting(migrated_url):
    now = datetime.now(UTC)
    _store_aged_rows(migrated_url, [0, 6, 7, 40], now)
    engine = create_engine_for(migrated_url)
    assert prune_captures(engine, retention_days=7, now=now) == 2
    engine.dispose()
    assert sorted(row.request_id for row in captured_rows(migrated_url)) == ["0d", "6d"]


def test_insight_captures_prune(migrated_url, monkeypatch):
    _store_aged_rows(migrated_url, [1, 3, 31], datetime.now(UTC))
    monkeypatch.setenv("INSIGHT_DATABASE_URL", migrated_url)
    result = CliRunner().invoke(main, ["captures", "prune"])
    assert result.exit_code == 0, result.output
    assert "deleted 1 captured requests older than 30 days" in result.output
    result = CliRunner().invoke(main, ["captures", "prune", "--older-than-days", "2"])
    assert "deleted 1 captured" in result.output
    assert [row.request_id for row in captured_rows(migrated_url)] == ["1d"]


def test_the_writer_prunes_when_it_starts(migrated_url):
    buffer = CaptureBuffer(10)
    buffer.put(_raw("old", received_at=time.time() - 3 * 86400))
    buffer.put(_raw("new"))
    writer = CaptureWriter(buffer, migrated_url, WriterPolicy(batch_size=10))
    writer.flush()
    writer.stop()
    writer = CaptureWriter(buffer, migrated_url, WriterPolicy(retention_days=2))
    writer.start()
    deadline = time.monotonic() + 10
    while len(captured_rows(migrated_url)) != 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    writer.stop()
    assert [row.request_id for row in captured_rows(migrated_url)] == ["new"]


def test_uuid_request_ids_are_kept_whole_and_others_masked():
    from app.capture.records import captured_row

    def stored_id(request_id: str) -> str:
        entry = RawCapture(request_id, "/v1/demands/classify", b"{}", b"{}", 200, 1.0, time.time())
        return captured_row(entry)["request_id"]

    looks_like_a_phone = "a13812345678b0c0d0e0f00000000000"  # 32 hex digits, a mobile inside
    assert stored_id(looks_like_a_phone) == looks_like_a_phone
    assert (
        stored_id("0a1b2c3d-4e5f-4a7b-8c9d-0e1f2a3b4c5d") == "0a1b2c3d-4e5f-4a7b-8c9d-0e1f2a3b4c5d"
    )
    assert "13812345678" not in stored_id("call-13812345678")
    assert PHONE in stored_id("call-13812345678")


@pytest.mark.skipif(not hasattr(os, "SCHED_IDLE"), reason="Linux's idle scheduling class")
def test_the_worker_masks_on_a_thread_that_runs_only_on_cpu_time_nothing_else_wants(
    migrated_url,
):
    buffer = CaptureBuffer(1000)
    buffer.put(_raw("r0"))
    writer = CaptureWriter(buffer, migrated_url, WriterPolicy())
    assert writer.flush() is True  # starts the worker; a batch this small is not urgent
    try:
        pid = writer._worker.pid
        policies = {tid: os.sched_getscheduler(tid) for tid in _threads(pid)}
        # The main thread, which masks urgent batches and inserts every batch (a transaction
        # holds the database's locks: never at idle priority), keeps the service's own class.
        assert policies.pop(pid) == os.SCHED_OTHER
        assert list(policies.values()) == [os.SCHED_IDLE]
    finally:
        writer.stop()
    assert len(captured_rows(migrated_url)) == 1


def _threads(pid: int) -> list[int]:
    return [int(tid) for tid in os.listdir(f"/proc/{pid}/task")]


def _cpu_ticks(pid: int) -> dict[int, int]:
    """CPU time (user + system, in clock ticks) of each thread of ``pid``."""
    ticks = {}
    for tid in _threads(pid):
        with open(f"/proc/{pid}/task/{tid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        ticks[tid] = int(fields[11]) + int(fields[12])  # utime, stime
    return ticks


@pytest.mark.skipif(not hasattr(os, "SCHED_IDLE"), reason="Linux's idle scheduling class")
def test_urgent_batches_are_masked_by_the_thread_at_normal_priority(migrated_url):
    """Measured in CPU time spent by each thread, not in how long anything took."""
    worker = CaptureWorker(migrated_url)
    try:
        worker.call(("write", [_raw("first")], False))  # the idle thread exists from here
        pid = worker.pid

        def cpu_spent_writing(prefix: str, *, urgent: bool) -> dict[int, int]:
            entries = [_raw(f"{prefix}-{i}") for i in range(3000)]
            before = _cpu_ticks(pid)
            assert worker.call(("write", entries, urgent)) == ("written", 3000, 0)
            after = _cpu_ticks(pid)
            return {tid: after[tid] - before[tid] for tid in after}

        urgent = cpu_spent_writing("urgent", urgent=True)
        idle = cpu_spent_writing("idle", urgent=False)
    finally:
        worker.stop(timeout_s=5)
    idle_thread = next(tid for tid in urgent if tid != pid)
    assert urgent[pid] > urgent[idle_thread]
    assert idle[idle_thread] > idle[pid]
    assert len(captured_rows(migrated_url)) == 6001


def test_on_sqlite_a_batch_is_inserted_at_the_services_priority(migrated_url, monkeypatch):
    """SQLite locks the whole file for a transaction: inserting on the idle-class thread could
    hold that lock for seconds on a saturated machine, while a PUT of a customer waits behind it
    and times out. Masking stays in the idle class; PostgreSQL (row locks) inserts there too."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from app.capture import worker

    inserted_on, masked_on = [], []
    store_batch, prepare_batch = worker.store_batch, worker.prepare_batch

    def recording_store(*args):
        inserted_on.append(threading.get_ident())
        return store_batch(*args)

    def recording_prepare(entries):
        masked_on.append(threading.get_ident())
        return prepare_batch(entries)

    monkeypatch.setattr(worker, "store_batch", recording_store)
    monkeypatch.setattr(worker, "prepare_batch", recording_prepare)
    engine = worker.writer_engine(migrated_url)
    with ThreadPoolExecutor(1) as idle:
        idle_thread = idle.submit(threading.get_ident).result()
        answer = worker._handle(engine, ("write", [_raw("r1")], False), idle)
    engine.dispose()
    assert answer == ("written", 1, 0)
    assert masked_on == [idle_thread]
    sqlite = migrated_url.startswith("sqlite")
    assert inserted_on == [threading.get_ident() if sqlite else idle_thread]
