"""An entry that fails to mask is rejected, not stored: the rest of its batch is written, the
rejected one is counted, and nothing of it reaches the table (SQLite and PostgreSQL)."""

from __future__ import annotations

import logging

import orjson

from app.capture import records, worker
from app.capture.buffer import CaptureBuffer, RawCapture
from app.capture.masking import PHONE
from app.capture.worker import write_batch, writer_engine
from app.capture.writer import CaptureWriter, WriterPolicy
from app.core.metrics import REGISTRY
from tests.capture.conftest import captured_rows, raw_capture

UNMASKABLE = "13912345678"  # the phone number in the entry whose masking fails
ANSWER = {"results": [], "models": [{"name": "spam-filter", "version": "1", "alias": "production"}]}


def _raw(request_id: str, text: str, capture_id: int, **fields) -> RawCapture:
    return raw_capture(request_id, text, default_answer=ANSWER, capture_id=capture_id, **fields)


def _batch() -> list[RawCapture]:
    return [
        _raw("r0", "手机13812345678，没信号", 1),
        _raw("r1", f"我叫张伟，手机{UNMASKABLE}，宽带断了", 2),
        _raw("r2", "话费怎么又多扣了，手机13712345678", 3),
    ]


def _write(url: str, entries: list[RawCapture]) -> tuple[int, int]:
    engine = writer_engine(url)
    try:
        return write_batch(engine, entries)
    finally:
        engine.dispose()


def _assert_only_the_masked_rows_were_stored(url: str) -> None:
    rows = captured_rows(url)
    assert [row.request_id for row in rows] == ["r0", "r2"]
    assert [row.body["text"] for row in rows] == [
        f"手机{PHONE}，没信号",
        f"话费怎么又多扣了，手机{PHONE}",
    ]
    assert all(UNMASKABLE not in str(row.body) for row in rows)


def test_an_entry_whose_masking_raises_is_rejected_and_the_rest_stored(migrated_url, monkeypatch):
    masked = records.mask_document

    def mask_or_break(document, **options):
        if UNMASKABLE in orjson.dumps(document).decode():
            raise RecursionError("the rules broke on this entry")
        return masked(document, **options)

    monkeypatch.setattr(records, "mask_document", mask_or_break)

    assert _write(migrated_url, _batch()) == (2, 1)  # (written, rejected)
    _assert_only_the_masked_rows_were_stored(migrated_url)


def test_an_entry_that_cannot_become_a_row_is_rejected_whatever_the_error(
    migrated_url, monkeypatch
):
    real_row = worker.captured_row

    def row_or_break(entry: RawCapture):
        if entry.request_id == "r1":
            raise ValueError("not a row")
        return real_row(entry)

    monkeypatch.setattr(worker, "captured_row", row_or_break)

    assert _write(migrated_url, _batch()) == (2, 1)
    _assert_only_the_masked_rows_were_stored(migrated_url)
    # Written again (the writer resends a batch whose answer it lost): the stored rows are
    # not stored twice, and the rejected entry is rejected again, never stored unmasked.
    assert _write(migrated_url, _batch()) == (0, 1)
    _assert_only_the_masked_rows_were_stored(migrated_url)


def test_the_writer_counts_and_logs_a_rejected_entry_and_moves_past_it(migrated_url, caplog):
    """Through the capture worker process, which no monkeypatch reaches: an entry whose time
    cannot be read (a clock gone wrong) fails in the same step as masking."""
    caplog.set_level(logging.WARNING, logger="app.capture")
    rejected_before = REGISTRY.get_sample_value("insight_capture_rejected_total") or 0.0
    written_before = REGISTRY.get_sample_value("insight_capture_written_total") or 0.0
    buffer = CaptureBuffer(100)
    entries = _batch()
    entries[1] = entries[1]._replace(received_at=float("inf"))
    for entry in entries:
        buffer.put(entry._replace(capture_id=buffer.ids.new()))
    writer = CaptureWriter(buffer, migrated_url, WriterPolicy())
    try:
        assert writer.flush() is True
    finally:
        writer.stop()

    assert len(buffer) == 0  # not retried for ever
    assert REGISTRY.get_sample_value("insight_capture_rejected_total") - rejected_before == 1
    assert REGISTRY.get_sample_value("insight_capture_written_total") - written_before == 2
    assert "capture: 1 captured requests could not be masked or stored" in caplog.text
    assert UNMASKABLE not in caplog.text
    _assert_only_the_masked_rows_were_stored(migrated_url)
