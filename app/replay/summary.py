"""The replay report as data (``report.json``): what the HTML page shows, for machines."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

import numpy as np

from app.replay.comparison import ModelTally, ReplayComparison, top_entries

HISTOGRAM_BINS = 20
PERCENTILES = (50, 95, 99)


def replay_summary(
    comparison: ReplayComparison,
    *,
    target: dict[str, Any],
    filters: dict[str, Any],
    skipped_failed_captures: int,
    min_agreement: float | None,
) -> dict[str, Any]:
    """Every figure of the report, JSON-ready."""
    rate = comparison.agreement_rate
    failed = sum(comparison.failures.values())
    return {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "target": target,
        "filters": filters,
        "requests": {
            "replayed": comparison.replayed,
            "answered": comparison.replayed - failed,
            "failed": failed,
            "agreeing": comparison.agreeing,
            "captured_failures_skipped": skipped_failed_captures,
            "not_from_production_skipped": comparison.not_from_production,
        },
        "agreement_rate": _round(rate),
        "min_agreement": min_agreement,
        "passed": None if min_agreement is None else rate is not None and rate >= min_agreement,
        "models": {name: _model(tally) for name, tally in sorted(comparison.models.items())},
        "changed_most": _rounded(top_entries(comparison.changed_most)),
        "failures": {
            "by_status": dict(comparison.failures.most_common()),
            "requests": comparison.failed_requests,
        },
        "latency_ms": _latency(comparison.latencies),
        "warnings": _warnings(comparison),
    }


def _model(tally: ModelTally) -> dict[str, Any]:
    return {
        "answers": tally.answers,
        "agreeing_answers": tally.agreeing_answers,
        "agreement_rate": _round(tally.agreeing_answers / tally.answers if tally.answers else None),
        "answered_by": {
            "captured": dict(tally.captured_versions.most_common()),
            "replayed": dict(tally.replayed_versions.most_common()),
        },
        "categorical": {name: _flips(flips) for name, flips in sorted(tally.flips.items())},
        "numeric": {name: _changes(changes) for name, changes in sorted(tally.changes.items())},
        "change_histogram": _histogram([c for cs in tally.changes.values() for c in cs]),
        "largest_changes": _rounded(top_entries(tally.largest)),
    }


def _flips(flips: Counter[tuple[str, str]]) -> dict[str, Any]:
    compared = sum(flips.values())
    agreeing = sum(n for (before, after), n in flips.items() if before == after)
    matrix: dict[str, dict[str, int]] = {}
    for (before, after), count in sorted(flips.items()):
        matrix.setdefault(before, {})[after] = count
    return {
        "compared": compared,
        "agreeing": agreeing,
        "flipped": compared - agreeing,
        "agreement_rate": _round(agreeing / compared if compared else None),
        "matrix": matrix,
    }


def _changes(changes: list[float]) -> dict[str, Any]:
    values = np.asarray(changes, dtype=float)
    return {
        "compared": len(values),
        "changed": int(np.count_nonzero(values)),
        "mean_change": _round(float(values.mean())),
        "mean_abs_change": _round(float(np.abs(values).mean())),
        "max_abs_change": _round(float(np.abs(values).max())),
    }


def _histogram(changes: list[float]) -> dict[str, list] | None:
    """Counts of score changes in equal bins, symmetric around no change."""
    if not changes:
        return None
    values = np.asarray(changes, dtype=float)
    reach = float(np.abs(values).max()) or 1e-4
    counts, edges = np.histogram(values, bins=HISTOGRAM_BINS, range=(-reach, reach))
    return {"edges": [_round(float(e)) for e in edges], "counts": counts.tolist()}


def _latency(latencies: list[tuple[str, float, float]]) -> dict[str, Any]:
    by_endpoint: dict[str, list[tuple[float, float]]] = {}
    for endpoint, captured, replayed in latencies:
        by_endpoint.setdefault(endpoint, []).append((captured, replayed))
    everything = [(captured, replayed) for _e, captured, replayed in latencies]
    return {
        "all": _side_by_side(everything),
        "by_endpoint": {e: _side_by_side(pairs) for e, pairs in sorted(by_endpoint.items())},
    }


def _side_by_side(pairs: list[tuple[float, float]]) -> dict[str, Any]:
    if not pairs:
        return {"requests": 0, "captured": None, "replayed": None}
    captured, replayed = np.asarray(pairs, dtype=float).T
    return {
        "requests": len(pairs),
        "captured": _percentiles(captured),
        "replayed": _percentiles(replayed),
    }


def _percentiles(values: np.ndarray) -> dict[str, float]:
    return {f"p{p}": round(float(np.percentile(values, p)), 3) for p in PERCENTILES}


def _warnings(comparison: ReplayComparison) -> list[str]:
    warnings = []
    for name, tally in sorted(comparison.models.items()):
        if tally.replayed_versions and not any(
            label.endswith("(staging)") for label in tally.replayed_versions
        ):
            warnings.append(
                f"{name} answered from {', '.join(tally.replayed_versions)}, not a staged "
                "version: its agreement says nothing about a new version"
            )
    return warnings


def _round(value: float | None, digits: int = 6) -> float | None:
    return None if value is None else round(value, digits)


def _rounded(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Entries with their float values rounded, for a report a person can read."""
    return [_round_floats(entry) for entry in entries]


def _round_floats(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 6)
    if isinstance(value, dict):
        return {k: _round_floats(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_round_floats(v) for v in value]
    return value
