"""The service's live-quality gauges: ``insight_live_quality``, ``insight_training_quality`` and
``insight_feedback_rows`` (app/core/metrics.py), recomputed from the app database on a thread
of their own, never on a request's path.

Every ``interval_s`` the thread reads the feedback received in the last ``window`` and replaces
the gauges whole; a round that fails (the database down or slow past its statement timeout)
leaves them as they were, with one log line naming the error's type. Training figures never
change for a version, so each is read from the registry once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import timedelta

from mlflow.tracking import MlflowClient
from sqlalchemy.orm import Session, sessionmaker

from app.core.health import error_name
from app.core.metrics import QUALITY_GAUGES, GaugeSample, GaugeSnapshot
from app.db.base import utc_now
from app.db.session import session_scope
from app.services.live_quality import (
    VersionQuality,
    Window,
    live_quality,
    training_metrics,
    with_training_figures,
)

logger = logging.getLogger(__name__)
LOADING_RETRY_S = 1.0


class LiveQualityGauges:
    """Keeps ``snapshot`` (exported by /metrics) at most ``interval_s`` behind the database;
    ``interval_s`` 0 never computes (the gauges stay absent)."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        registry: Callable[[], MlflowClient],
        serving: Callable[[], Mapping[str, str]],
        *,
        interval_s: float,
        window: timedelta,
    ):
        self.sessions = sessions
        self.registry = registry
        self.serving = serving  # model -> the production version loaded now
        self.interval_s = interval_s
        self.window = window
        self.snapshot = GaugeSnapshot(QUALITY_GAUGES)
        self._training: dict[tuple[str, str], dict[str, float]] = {}
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="live-quality", daemon=True)
        self._failing = False

    def start(self) -> None:
        if self.interval_s > 0:
            self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(timeout_s)

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                self._compute()
            except Exception as error:  # noqa: BLE001 - a failed round keeps the last figures
                self._note_failure(error)
            # Until the first models load, again soon: else their 0 rows show an interval late.
            loading = not self.serving()
            self._stopping.wait(
                min(self.interval_s, LOADING_RETRY_S) if loading else self.interval_s
            )

    def _compute(self) -> None:
        window = Window(since=utc_now() - self.window)
        with session_scope(self.sessions) as session:
            qualities = live_quality(session, window, serving=self.serving())
        self._read_training_figures(qualities)
        self.snapshot.replace(gauge_samples(with_training_figures(qualities, self._training)))
        if self._failing:
            logger.info("live quality computed again")
        self._failing = False

    def _read_training_figures(self, qualities: Iterable[VersionQuality]) -> None:
        wanted = {(q.model, q.version) for q in qualities} - set(self._training)
        if not wanted:
            return
        client = self.registry()
        for model, version in sorted(wanted):
            figures = training_metrics(client, model, version)
            if figures is not None:  # unknown now: asked again next round
                self._training[model, version] = figures

    def _note_failure(self, error: Exception) -> None:
        if not self._failing:  # once per outage, the type only: never a statement's data
            logger.warning(
                "live quality not computed (%s); the gauges keep their last figures",
                error_name(error),
            )
        self._failing = True


def gauge_samples(qualities: Iterable[VersionQuality]) -> Iterator[GaugeSample]:
    """The gauges' samples: rows per version, and each figure that has a number."""
    for quality in qualities:
        version = (quality.model, quality.version)
        yield "insight_feedback_rows", version, float(quality.rows)
        for figure in quality.figures:
            if figure.live is not None:
                yield "insight_live_quality", (*version, figure.metric), figure.live
            if figure.training is not None:
                yield "insight_training_quality", (*version, figure.metric), figure.training
