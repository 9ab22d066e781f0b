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

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client import values as prometheus_values
from prometheus_client.multiprocess import MultiProcessCollector

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


def exposition() -> bytes:
    """Every metric in the Prometheus text format: the deployment's, or this process's."""
    if MULTIPROCESS:
        return generate_latest(_deployment_registry())
    return generate_latest(REGISTRY)


def _deployment_registry() -> CollectorRegistry:
    """A registry that reads every worker's metric files at each scrape."""
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=os.environ["PROMETHEUS_MULTIPROC_DIR"])
    return registry
