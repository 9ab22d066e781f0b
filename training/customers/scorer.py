"""Every target of one or more customer models, whichever family won each: the trees scored
in one flattened pass (``ForestScorer``), the logistic regressions as a few matrix products
(``LinearScorer``), each record encoded once for both."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

import numpy as np
from sklearn.pipeline import Pipeline

from training.customers.data import FeatureSpec, RecordEncoder
from training.customers.forest_scorer import ForestScorer, UnsupportedPipelineError
from training.customers.linear_scorer import LinearScorer, is_linear_pipeline
from training.customers.risk_factors import risk_factors


class _Model(Protocol):
    features: FeatureSpec
    pipelines: dict[str, Pipeline]


class CustomerScorer:
    """Fast, exact scoring of customer-model pipelines sharing one feature spec.

    Several models that share one spec (the built-in world's four do) can go into one scorer:
    one pass then serves every model. Target names must then be distinct. A pipeline of a
    kind neither fast scorer reproduces raises ``UnsupportedPipelineError``.
    """

    def __init__(self, features: FeatureSpec, pipelines: Mapping[str, Pipeline]):
        if not pipelines:
            raise UnsupportedPipelineError("no pipelines to score")
        self.features = features
        self.encoder = RecordEncoder(features)
        linear = {t: p for t, p in pipelines.items() if is_linear_pipeline(p)}
        trees = {t: p for t, p in pipelines.items() if t not in linear}
        self._parts: list[ForestScorer | LinearScorer] = []
        if trees:
            self._parts.append(ForestScorer(features, trees))
        if linear:
            self._parts.append(LinearScorer(features, linear))
        self._part_of = {target: part for part in self._parts for target in part.targets}
        self.targets = tuple(pipelines)

    @classmethod
    def from_models(cls, *models: _Model) -> CustomerScorer:
        """One scorer for every target of ``models``, which must share their feature spec."""
        if not models:
            raise UnsupportedPipelineError("no models to score")
        features = models[0].features
        if any(model.features != features for model in models):
            raise UnsupportedPipelineError("models with different feature specs")
        pipelines: dict[str, Pipeline] = {}
        for model in models:
            if set(model.pipelines) & set(pipelines):
                raise UnsupportedPipelineError("two models share a target name")
            pipelines.update(model.pipelines)
        return cls(features, pipelines)

    def classes(self, target: str) -> list[str]:
        return self._part_of[target].classes(target)

    def encode(self, records: Any) -> np.ndarray:
        return self.encoder.encode(records)

    def probabilities(self, records: Any) -> dict[str, np.ndarray]:
        """Per target: P(positive) for a yes/no target, the (rows x classes) matrix otherwise."""
        return self.encoded_probabilities(self.encode(records))

    def encoded_probabilities(self, encoded: np.ndarray, target: str | None = None) -> dict:
        if target is not None:
            return self._part_of[target].encoded_probabilities(encoded, target)
        result: dict[str, np.ndarray] = {}
        for part in self._parts:
            result.update(part.encoded_probabilities(encoded))
        return {target: result[target] for target in self.targets}

    def risk_factors(
        self, records: Any, *, typical: Mapping[str, object], target: str, top: int = 3
    ) -> list[list[dict]]:
        """Per record, the features that push a yes/no target's probability up the most."""
        return risk_factors(self, records, typical=typical, target=target, top=top)
