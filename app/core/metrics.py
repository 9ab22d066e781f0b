"""The service's Prometheus metrics, all defined here so that one page lists them.

``GET /metrics`` answers in the Prometheus text format for the whole deployment: with several
workers, ``insight serve`` gives them one directory of metric files (prometheus_client's
multiprocess mode, ``PROMETHEUS_MULTIPROC_DIR``) and every worker answers the sum over all of
them; with one worker the process's own registry is the deployment.

Scoring requests are counted per endpoint (the route template, never the raw path: that holds
a customer id) and per model version that answered, in ``insight_model_requests_total`` and
``insight_request_duration_seconds`` (``app.core.request_metrics`` records them).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client import values as prometheus_values
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

# What prometheus_client chose when it was first imported: once chosen it cannot change.
MULTIPROCESS = prometheus_values.ValueClass._multiprocess

REGISTRY = CollectorRegistry(auto_describe=True)

MODEL_LOAD_FAILURES = Counter(
    "insight_model_load_failures_total",
    "Model versions that failed to load or failed their smoke test, so were not swapped in.",
    ["model", "alias"],
    registry=REGISTRY,
)
MODEL_SWAPS = Counter(
    "insight_model_swaps_total",
    "Model versions swapped in without a restart after their alias moved.",
    ["model", "alias"],
    registry=REGISTRY,
)
MODEL_REQUESTS = Counter(
    "insight_model_requests_total",
    "Scoring requests by endpoint (route template), model version that answered, alias and "
    "HTTP status; one refused before any model answered has empty model, version and alias.",
    ["endpoint", "model", "version", "alias", "status"],
    registry=REGISTRY,
)
REQUEST_DURATION = Histogram(
    "insight_request_duration_seconds",
    "Scoring requests' time in the service, by endpoint (route template) and each model "
    "version that answered them.",
    ["endpoint", "model", "version"],
    buckets=(0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0),
    registry=REGISTRY,
)
CAPTURE_WRITTEN = Counter(
    "insight_capture_written_total",
    "Captured requests written to the app database.",
    registry=REGISTRY,
)
CAPTURE_DROPPED = Counter(
    "insight_capture_dropped_total",
    "Captured requests dropped because the buffer was full (the database slow or down).",
    registry=REGISTRY,
)
CAPTURE_REJECTED = Counter(
    "insight_capture_rejected_total",
    "Captured requests not stored because masking failed or the database refused the row.",
    registry=REGISTRY,
)
CAPTURE_PENDING = Gauge(
    "insight_capture_pending",
    "Captured requests waiting in the buffer to be written.",
    registry=REGISTRY,
    multiprocess_mode="livesum",  # the live workers' buffers added up
)

# Live quality (app.services.quality_gauges): computed from the app database on a thread, not
# counted per request, so exported from the snapshot each worker last computed (GaugeSnapshot).
QUALITY_GAUGES = {
    "insight_live_quality": (
        "Each model version's figure on the feedback received in the window (accuracy, "
        "macro_f1, roc_auc, mean_roc_auc; docs/monitoring.md); absent when it cannot be computed.",
        ("model", "version", "metric"),
    ),
    "insight_training_quality": (
        "The same figure as its version's training run logged it on held-out data.",
        ("model", "version", "metric"),
    ),
    "insight_feedback_rows": (
        "Feedback rows in the window that judge each model version.",
        ("model", "version"),
    ),
}

GaugeSample = tuple[str, tuple[str, ...], float]  # gauge name, label values, value


class GaugeSnapshot(Collector):
    """Gauges replaced whole by whoever computes them, exported as last computed.

    Not in the multiprocess files: every worker computes the same figures from the same
    database, so whichever worker answers a scrape answers for the deployment (summed over
    workers they would be wrong), and versions no longer in the window leave at once.
    """

    def __init__(self, gauges: dict[str, tuple[str, tuple[str, ...]]]):
        self.gauges = gauges
        self._samples: list[GaugeSample] = []
        self._lock = threading.Lock()

    def replace(self, samples: Iterable[GaugeSample]) -> None:
        samples = list(samples)
        with self._lock:
            self._samples = samples

    def collect(self) -> Iterator[GaugeMetricFamily]:
        with self._lock:
            samples = self._samples
        for name, (documentation, labels) in self.gauges.items():
            family = GaugeMetricFamily(name, documentation, labels=labels)
            for sample_name, values, value in samples:
                if sample_name == name:
                    family.add_metric(values, value)
            yield family


def exposition(*extra: Collector) -> bytes:
    """Every metric in the Prometheus text format: the deployment's, or this process's, and
    those of ``extra`` (this process's snapshots)."""
    page = generate_latest(_deployment_registry() if MULTIPROCESS else REGISTRY)
    if extra:
        own = CollectorRegistry()
        for collector in extra:
            own.register(collector)
        page += generate_latest(own)
    return page


def _deployment_registry() -> CollectorRegistry:
    """A registry that reads every worker's metric files at each scrape."""
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=os.environ["PROMETHEUS_MULTIPROC_DIR"])
    return registry
