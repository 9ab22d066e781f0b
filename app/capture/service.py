"""One app's request capture: the buffer its middleware fills and the writer that empties it."""

from __future__ import annotations

from starlette.applications import Starlette

from app.capture.buffer import CaptureBuffer
from app.capture.middleware import CaptureMiddleware
from app.capture.writer import CaptureWriter, WriterPolicy
from app.core.config import Settings


class RequestCapture:
    """Installed by ``create_app`` when ``capture_enabled``; started and stopped by the lifespan."""

    def __init__(self, settings: Settings):
        self.buffer = CaptureBuffer(
            settings.capture_buffer_size, max_bytes=settings.capture_buffer_bytes
        )
        self.refused_body_bytes = settings.capture_refused_body_bytes
        self.policy = WriterPolicy(
            batch_size=settings.capture_batch_size,
            flush_interval_s=settings.capture_flush_interval_seconds,
            retention_days=settings.capture_retention_days,
            shutdown_timeout_s=settings.capture_shutdown_timeout_seconds,
        )
        self.writer: CaptureWriter | None = None

    def install(self, app: Starlette) -> None:
        app.add_middleware(
            CaptureMiddleware, buffer=self.buffer, refused_body_bytes=self.refused_body_bytes
        )

    def start(self, database_url: str) -> None:
        self.writer = CaptureWriter(self.buffer, database_url, self.policy)
        self.writer.start()

    def stop(self) -> int:
        """Write what is pending within the deadline; the number of entries left unwritten."""
        return self.writer.stop() if self.writer else len(self.buffer)
