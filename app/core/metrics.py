"""The service's Prometheus metrics, all defined here so that one page lists them.

Each process counts for itself (with several workers, scrape each or sum them); ``GET
/metrics`` answers in the Prometheus text format.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest

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
)


def exposition() -> bytes:
    """Every metric in the Prometheus text format."""
    return generate_latest(REGISTRY)
