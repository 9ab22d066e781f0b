"""How far a version's traffic is from its reference profile: a population stability index
(PSI) per customer feature, text statistic and answer field, Jensen-Shannon for categories,
and the out-of-vocabulary rate now and at training.

Flags (docs/monitoring.md): PSI above 0.25 is a shift, 0.1 to 0.25 worth watching, below 0.1
stable.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from app.drift.traffic import VersionTraffic
from training.common.drift import jensen_shannon, psi
from training.common.profile import shares_like
from training.customers.profile import feature_values, profile_features
from training.text.model import TextClassifierModel
from training.text.profile import text_statistics

WATCH_PSI, SHIFT_PSI = 0.1, 0.25
STABLE, WATCH, SHIFT = "stable", "watch", "shift"
FEATURE, TEXT, ANSWER = "feature", "text", "answer"


@dataclass(frozen=True)
class Shift:
    """One statistic of one version: its bins, the shares at training and now, how far."""

    group: str  # feature, text or answer
    name: str
    psi: float
    jensen_shannon: float | None  # categories only
    flag: str
    bins: list[str]
    reference: list[float]
    current: list[float]
    observed: int  # values seen in the window (missing ones included)


def flag(value: float) -> str:
    if value > SHIFT_PSI:
        return SHIFT
    return WATCH if value >= WATCH_PSI else STABLE


def compare_version(
    traffic: VersionTraffic, profile: Mapping[str, Any], model: TextClassifierModel | None
) -> dict[str, Any]:
    """The drift of one version's traffic from its profile, as the report holds it."""
    shifts: list[Shift] = []
    found: dict[str, Any] = {"model": traffic.model, "version": traffic.version}
    if profile["kind"] == "customer" and traffic.records:
        values = feature_values(profile_features(profile), traffic.records)
        shifts += _shifts(FEATURE, profile["features"], values)
    if profile["kind"] == "text" and traffic.texts and model is not None:
        statistics = text_statistics(model, traffic.texts)
        now = {"length": statistics.lengths, "oov_share": statistics.oov_shares}
        shifts += _shifts(TEXT, profile["texts"], now)
        found["oov_rate"] = {
            "reference": profile["texts"]["oov_rate"],
            "current": statistics.oov_rate,
        }
    shifts += _shifts(ANSWER, profile["answers"], traffic.answers)
    found |= {"items": traffic.items, "shifts": [asdict(shift) for shift in shifts]}
    return found


def _shifts(
    group: str, references: Mapping[str, Any], values: Mapping[str, Sequence[Any]]
) -> list[Shift]:
    shifts = []
    for name, reference in references.items():
        if not isinstance(reference, dict) or name not in values:
            continue
        current = shares_like(reference, values[name])
        before = np.asarray(reference["shares"])
        categorical = reference["kind"] == "categorical"
        index = psi(before, current)
        shifts.append(
            Shift(
                group=group,
                name=name,
                psi=round(index, 4),
                jensen_shannon=round(jensen_shannon(before, current), 4) if categorical else None,
                flag=flag(index),
                bins=bin_labels(reference),
                reference=[round(s, 4) for s in before.tolist()],
                current=[round(s, 4) for s in current.tolist()],
                observed=len(values[name]),
            )
        )
    return shifts


def bin_labels(reference: Mapping[str, Any]) -> list[str]:
    """What each share is of: a category (then "other"), or a range (then "missing")."""
    if reference["kind"] == "categorical":
        return [*reference["categories"], "other"]
    edges = [f"{edge:.4g}" for edge in reference["edges"]]
    if not edges:
        return ["all", "missing"]
    inner = [f"{low}–{high}" for low, high in zip(edges, edges[1:])]
    return [f"< {edges[0]}", *inner, f"≥ {edges[-1]}", "missing"]
