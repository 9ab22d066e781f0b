"""Adding up a replay: per model agreement and flips, score changes, failures, latency.

Only ids, endpoints, output fields and their values are kept: never a request's body.
"""

from __future__ import annotations

import heapq
import itertools
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from app.replay.outputs import FieldPair, compare_answers
from app.replay.selection import Captured
from app.replay.sending import Replayed

TOP = 20  # requests that changed most, and largest score changes per model, kept for the report
LISTED_FAILURES = 100
_ORDER = itertools.count()


@dataclass
class ModelTally:
    """One model's outputs over the replay."""

    answers: int = 0
    agreeing_answers: int = 0
    flips: dict[str, Counter[tuple[str, str]]] = field(default_factory=lambda: defaultdict(Counter))
    changes: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    largest: list[tuple[float, int, dict[str, Any]]] = field(default_factory=list)
    captured_versions: Counter[str] = field(default_factory=Counter)
    replayed_versions: Counter[str] = field(default_factory=Counter)


@dataclass
class ReplayComparison:
    """Everything a replay found, added up one request at a time."""

    replayed: int = 0
    agreeing: int = 0
    not_from_production: int = 0
    models: dict[str, ModelTally] = field(default_factory=lambda: defaultdict(ModelTally))
    failures: Counter[str] = field(default_factory=Counter)
    failed_requests: list[dict[str, Any]] = field(default_factory=list)
    changed_most: list[tuple[tuple[int, float], int, dict[str, Any]]] = field(default_factory=list)
    latencies: list[tuple[str, float, float]] = field(default_factory=list)

    def skip(self, captured: Captured) -> None:
        """Count a captured request answered from another alias than production: not re-sent."""
        self.not_from_production += 1

    def add(self, captured: Captured, replayed: Replayed) -> None:
        """Compare one replayed answer with the captured one (or count its failure)."""
        self.replayed += 1
        if not replayed.ok:
            self._add_failure(captured, replayed)
            return
        self.latencies.append((captured.template, captured.latency_ms, replayed.latency_ms))
        _count_versions(self.models, captured.model_versions, replayed.answer)
        pairs = list(compare_answers(captured.template, captured.answer, replayed.answer))
        flips = [pair for pair in pairs if pair.categorical and not pair.agrees]
        self.agreeing += not flips
        for pair in pairs:
            self._add_pair(captured, pair)
        self._add_answers(pairs)
        self._rank_request(captured, pairs, flips)

    @property
    def agreement_rate(self) -> float | None:
        """Share of replayed requests whose categorical outputs all agree; a failure disagrees."""
        return self.agreeing / self.replayed if self.replayed else None

    def _add_failure(self, captured: Captured, replayed: Replayed) -> None:
        self.failures[replayed.failure_key] += 1
        if len(self.failed_requests) < LISTED_FAILURES:
            self.failed_requests.append(
                {**_identity(captured), "status": replayed.status, "problem": replayed.problem}
            )

    def _add_pair(self, captured: Captured, pair: FieldPair) -> None:
        tally = self.models[pair.model]
        if pair.categorical:
            tally.flips[pair.field][(pair.captured, pair.replayed)] += 1
            return
        tally.changes[pair.field].append(pair.change)
        entry = {**_identity(captured), **pair.describe()}
        _keep_top(tally.largest, (abs(pair.change), captured.id, entry))

    def _add_answers(self, pairs: list[FieldPair]) -> None:
        agreeing: dict[tuple[str, int], bool] = {}
        for pair in pairs:
            key = (pair.model, pair.item)
            agreeing[key] = agreeing.get(key, True) and (not pair.categorical or pair.agrees)
        for (model, _item), agrees in agreeing.items():
            self.models[model].answers += 1
            self.models[model].agreeing_answers += agrees

    def _rank_request(
        self, captured: Captured, pairs: list[FieldPair], flips: list[FieldPair]
    ) -> None:
        largest = max((p for p in pairs if not p.categorical), key=_size, default=None)
        if not flips and (largest is None or largest.change == 0):
            return
        entry = {
            **_identity(captured),
            "flips": [pair.describe() for pair in flips],
            "largest_change": None if largest is None else largest.describe(),
        }
        rank = (len(flips), 0.0 if largest is None else abs(largest.change))
        _keep_top(self.changed_most, (rank, captured.id, entry))


def _identity(captured: Captured) -> dict[str, Any]:
    return {"id": captured.id, "request_id": captured.request_id, "endpoint": captured.endpoint}


def _size(pair: FieldPair) -> float:
    return abs(pair.change)


def _keep_top(heap: list, entry: tuple) -> None:
    """Keep the TOP largest entries; ties go to the older (smaller id) request."""
    rank, row_id, payload = entry
    item = (rank, -row_id, -next(_ORDER), payload)
    if len(heap) < TOP:
        heapq.heappush(heap, item)
    elif item[:3] > heap[0][:3]:
        heapq.heapreplace(heap, item)


def top_entries(heap: list) -> list[dict[str, Any]]:
    """A kept heap's entries, largest first."""
    return [item[-1] for item in sorted(heap, key=lambda item: item[:3], reverse=True)]


def _count_versions(
    models: dict[str, ModelTally], captured: list[dict[str, str]], answer: Any
) -> None:
    for ref in captured:
        if isinstance(ref, dict) and "name" in ref:
            models[ref["name"]].captured_versions[_version_label(ref)] += 1
    refs = answer.get("models") if isinstance(answer, dict) else None
    for ref in refs if isinstance(refs, list) else []:
        if isinstance(ref, dict) and "name" in ref:
            models[ref["name"]].replayed_versions[_version_label(ref)] += 1


def _version_label(ref: dict[str, str]) -> str:
    return f"{ref.get('version', '?')} ({ref.get('alias', '?')})"
