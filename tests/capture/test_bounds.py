"""What bounds capture: the buffer in entries and bytes, batches in bytes, the prefix kept of a
refused body, the drop log (once a minute, on a fake clock), and when batches turn urgent."""

import json
import logging
import time

import orjson

from app.capture.buffer import CaptureBuffer, CaptureIds, RawCapture, entry_size
from app.capture.masking import NAME, PHONE
from app.capture.middleware import PROFILE, captured_endpoint, kept_body
from app.capture.records import captured_row
from app.capture.writer import CaptureWriter, DropLog, WriterPolicy, writes_urgently
from tests.capture.conftest import captured_rows

CLASSIFY = "/v1/demands/classify"


def _entry(body: bytes = b"{}", **fields) -> RawCapture:
    values = {
        "request_id": "r",
        "endpoint": CLASSIFY,
        "body": body,
        "answer": b"{}",
        "status": 200,
        "latency_ms": 1.0,
        "received_at": time.time(),
    }
    return RawCapture(**(values | fields))


def test_the_buffer_is_bounded_in_bytes_as_well_as_in_entries():
    large = _entry(b"x" * 10_000)
    buffer = CaptureBuffer(100, max_bytes=3 * entry_size(large))
    assert [buffer.put(large) for _ in range(5)] == [True, True, True, False, False]
    assert buffer.dropped == 2 and buffer.bytes == 3 * entry_size(large)
    assert buffer.fill() == 1.0  # full by bytes, with 3 entries of 100
    buffer.discard(2)
    assert buffer.bytes == entry_size(large)
    assert buffer.put(large) and not buffer.put(_entry(b"x" * 3 * 10_000))


def test_a_batch_is_bounded_in_bytes_and_holds_at_least_one_entry():
    buffer = CaptureBuffer(100)
    for _ in range(5):
        buffer.put(_entry(b"x" * 1000))
    size = entry_size(_entry(b"x" * 1000))
    assert len(buffer.peek(100, 2 * size)) == 2
    assert len(buffer.peek(100, 1)) == 1
    assert len(buffer.peek(3)) == 3 and len(buffer) == 5


def test_capture_ids_are_unique_across_buffers_and_stored_as_32_hex_digits():
    first, second = CaptureIds(), CaptureIds()
    ids = {first.new() for _ in range(1000)} | {second.new() for _ in range(1000)}
    assert len(ids) == 2000 and all(0 < capture_id < 2**128 for capture_id in ids)
    stored = captured_row(_entry(capture_id=first.new()))["capture_id"]
    assert len(stored) == 32 and int(stored, 16) > 0
    assert captured_row(_entry())["capture_id"] is None  # none given: NULL, never a clash


def test_an_answered_body_is_kept_whole_and_a_refused_one_cut_to_its_prefix():
    chunks = [b"a" * 3000, b"b" * 3000]
    whole = b"a" * 3000 + b"b" * 3000
    assert kept_body(chunks, answered=True, complete=True, limit=4096) == (whole, False)
    assert kept_body(chunks, answered=False, complete=True, limit=4096) == (whole[:4096], True)
    assert kept_body([b"short"], answered=False, complete=True, limit=4096) == (b"short", False)
    # Refused before it was read (its declared length too large), or while it was read.
    assert kept_body([], answered=False, complete=False, limit=4096) == (b"", True)
    assert kept_body([b"x" * 10], answered=False, complete=False, limit=4096) == (b"x" * 10, True)


def test_a_truncated_body_is_stored_as_a_masked_string():
    sent = {
        "customers": [{"features": {"客户姓名": "张三", "phone": 13812345678}}],
        "note": "我叫李四，手机13912345678",
        "rest": "x" * 5000,
    }
    for ascii_only in (True, False):  # a client may escape all of its Chinese
        encoded = json.dumps(sent, ensure_ascii=ascii_only).encode()
        prefix, truncated = kept_body([encoded], answered=False, complete=True, limit=300)
        row = captured_row(_entry(prefix, status=413, body_truncated=truncated))
        assert row["body_truncated"] is True and isinstance(row["body"], str)
        assert f'"客户姓名": "{NAME}"' in row["body"] and f'"phone": "{PHONE}"' in row["body"]
        assert f"我叫{NAME}，手机{PHONE}" in row["body"]
        for secret in ("张三", "李四", "13812345678", "13912345678"):
            assert secret not in row["body"]


def test_an_untruncated_row_keeps_its_body_as_json():
    row = captured_row(_entry(orjson.dumps({"text": "手机13812345678"})))
    assert row["body"] == {"text": f"手机{PHONE}"} and row["body_truncated"] is False


def test_the_endpoint_is_the_route_template_and_the_customer_id_is_kept_apart():
    assert captured_endpoint("GET", "/v1/customers/C00000001/profile") == (
        PROFILE,
        {"customer_id": "C00000001"},
    )
    assert captured_endpoint("POST", CLASSIFY) == (CLASSIFY, None)
    assert captured_endpoint("GET", "/v1/customers/C00000001") is None
    assert captured_endpoint("PUT", "/v1/customers/C00000001") is None
    assert captured_endpoint("GET", "/v1/customers/a/b/profile") is None


def test_an_ordinary_customer_id_is_stored_as_it_is_and_personal_data_in_one_is_masked():
    def stored(customer_id: str) -> tuple[str, dict]:
        row = captured_row(_entry(b"", endpoint=PROFILE, path_params={"customer_id": customer_id}))
        return row["endpoint"], row["path_params"]

    assert stored("C00000001") == (PROFILE, {"customer_id": "C00000001"})
    assert stored("张伟13812345678") == (PROFILE, {"customer_id": f"{NAME}{PHONE}"})
    assert stored("C13812345678") == (PROFILE, {"customer_id": f"C{PHONE}"})


def test_drops_are_reported_when_they_start_then_once_a_minute_with_the_count():
    now = [0.0]
    log = DropLog(60.0, clock=lambda: now[0])
    assert log.due(0) == 0
    assert log.due(3) == 3  # at once
    now[0] = 10.0
    assert log.due(8) == 0  # counted, said with the next line
    now[0] = 59.9
    assert log.due(9) == 0
    now[0] = 60.0
    assert log.due(12) == 9  # a minute on: the count since the line before
    now[0] = 125.0
    assert log.due(12) == 0  # none dropped: nothing to say
    now[0] = 130.0
    assert log.due(13) == 1  # dropping again after a quiet minute: said at once
    now[0] = 150.0
    assert log.due(20) == 0
    now[0] = 190.0
    assert log.due(20) == 7


def test_the_writer_logs_the_drops_of_every_minute_while_they_go_on(migrated_url, caplog):
    caplog.set_level(logging.WARNING, logger="app.capture")
    now = [1000.0]
    buffer = CaptureBuffer(2)
    writer = CaptureWriter(buffer, migrated_url, WriterPolicy(), clock=lambda: now[0])
    try:
        for minute in range(3):
            for i in range(5):
                buffer.put(_entry(request_id=f"m{minute}-{i}"))
            assert writer.flush() is True
            now[0] += 61.0
    finally:
        writer.stop()
    lines = [r.getMessage() for r in caplog.records if "last minute" in r.getMessage()]
    assert len(lines) == 3
    assert all("buffer is full" in line and "3 captured requests dropped" in line for line in lines)
    assert len(captured_rows(migrated_url)) == 6


def test_batches_turn_urgent_when_the_buffer_fills_and_calm_once_it_is_drained():
    policy = WriterPolicy(urgent_above=0.05, calm_below=0.01)
    assert not writes_urgently(policy, urgent=False, fill=0.0)
    assert not writes_urgently(policy, urgent=False, fill=0.049)
    assert writes_urgently(policy, urgent=False, fill=0.05)
    assert writes_urgently(policy, urgent=True, fill=0.02)  # still draining
    assert not writes_urgently(policy, urgent=True, fill=0.01)
    assert not writes_urgently(policy, urgent=False, fill=0.02)


class RecordingWorker:
    """Stands in for the worker process: notes whether each batch was sent urgent."""

    def __init__(self) -> None:
        self.urgent: list[bool] = []

    def call(self, request: tuple) -> tuple:
        _, entries, urgent = request
        self.urgent.append(urgent)
        return ("written", len(entries), 0)

    def stop(self, *, timeout_s: float) -> None:
        pass


def _recording_writer(buffer: CaptureBuffer, **policy) -> tuple[CaptureWriter, RecordingWorker]:
    writer = CaptureWriter(buffer, "sqlite://", WriterPolicy(**policy))
    worker = writer._worker = RecordingWorker()  # type: ignore[assignment]
    return writer, worker


def test_the_writer_sends_urgent_batches_until_the_buffer_is_drained():
    buffer = CaptureBuffer(100)
    writer, worker = _recording_writer(buffer, batch_size=2, urgent_above=0.05, calm_below=0.01)
    for _ in range(6):
        buffer.put(_entry())
    writer.flush()  # 6%, then 4% and 2% (still draining)
    buffer.put(_entry())
    writer.flush()  # 1%: drained
    for _ in range(3):
        buffer.put(_entry())
    writer.flush()  # 3%, then 1%: below the mark that turns batches urgent
    assert worker.urgent == [True, True, True, False, False, False]


def test_a_buffer_full_of_bytes_makes_batches_urgent_too():
    buffer = CaptureBuffer(1000, max_bytes=10 * entry_size(_entry(b"x" * 1000)))
    writer, worker = _recording_writer(buffer, urgent_above=0.05)
    buffer.put(_entry(b"x" * 1000))  # one entry in a thousand, a tenth of the bytes
    writer.flush()
    assert worker.urgent == [True]
