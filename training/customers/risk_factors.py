"""What pushed a customer's yes/no probability up: the same question for every model family."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import numpy as np


class EncodedScorer(Protocol):
    features: Any

    def encode(self, records: Any) -> np.ndarray: ...

    def encoded_probabilities(self, encoded: np.ndarray, target: str | None = None) -> dict: ...


def risk_factors(
    scorer: EncodedScorer,
    records: Any,
    *,
    typical: Mapping[str, object],
    target: str,
    top: int = 3,
) -> list[list[dict]]:
    """Per record, the features that push ``target``'s probability up the most.

    A feature's push is how far the probability falls when that feature alone takes its
    ``typical`` value (the model's training median or most common value); only pushes above
    zero are listed, strongest first.
    """
    encoded = scorer.encode(records)
    columns = [i for i, name in enumerate(scorer.features.columns) if name in typical]
    if not columns:
        return [[] for _ in range(len(encoded))]
    usual = scorer.encode([dict(typical)])[0, columns]
    # One variant row per (record, feature): the record with that feature made typical.
    variants = np.repeat(encoded[:, None, :], len(columns), axis=1)
    variants[:, np.arange(len(columns)), columns] = usual
    base = _yes(scorer.encoded_probabilities(encoded, target)[target], target)
    flat = variants.reshape(-1, encoded.shape[1])
    changed = _yes(scorer.encoded_probabilities(flat, target)[target], target)
    pushes = base[:, None] - changed.reshape(len(encoded), len(columns))
    names = [scorer.features.columns[i] for i in columns]
    return [strongest_pushes(row, names, top) for row in pushes]


def _yes(probabilities: np.ndarray, target: str) -> np.ndarray:
    if probabilities.ndim != 1:
        raise ValueError(f"{target} is not a yes/no target")
    return probabilities


def strongest_pushes(pushes: np.ndarray, columns: Sequence[str], top: int) -> list[dict]:
    """The ``top`` features with the largest pushes above zero, strongest first."""
    order = np.argsort(pushes)[::-1][:top]
    return [
        {"feature": columns[i], "push": round(float(pushes[i]), 4)} for i in order if pushes[i] > 0
    ]
