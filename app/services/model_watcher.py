"""The poller: loads the catalog, then follows the registry's aliases on a background thread."""

from __future__ import annotations

import logging
import threading

from app.services.model_catalog import ModelCatalog

logger = logging.getLogger(__name__)


class ModelWatcher:
    """Loads every model once, then checks the registry every ``interval_s`` seconds.

    ``interval_s`` 0 loads and never polls (``POST /v1/admin/models/refresh`` still checks).
    Checks run on this thread, never on the event loop: a swap's load and smoke test take
    seconds, while requests keep answering from the snapshot they hold.
    """

    def __init__(self, catalog: ModelCatalog, *, interval_s: float):
        self.catalog = catalog
        self.interval_s = interval_s
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="model-watcher", daemon=True)

    def start(self) -> None:
        self._thread.start()

    @property
    def polling(self) -> bool:
        """The watcher's thread still runs: loading, or following the registry."""
        return self._thread.is_alive()

    def stop(self, timeout_s: float = 60.0) -> None:
        """Stop polling; wait for the model being loaded, if any (never cut half-done)."""
        self._stopping.set()
        self.catalog.close()
        if self._thread.is_alive():
            self._thread.join(timeout_s)

    def _run(self) -> None:
        self._guarded(self.catalog.load)
        while self.interval_s > 0 and not self._stopping.wait(self.interval_s):
            self._guarded(self.catalog.refresh)

    def _guarded(self, check) -> None:
        try:
            check()
        except Exception:  # one bad check must not end the polling
            logger.exception("checking the registry failed; next check in %ss", self.interval_s)
