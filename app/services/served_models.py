"""Registered model versions loaded for serving: one small class per kind, one way to load."""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from typing import Protocol

import mlflow.pyfunc
import numpy as np
from mlflow.entities.model_registry import ModelVersion
from mlflow.models import ModelSignature
from mlflow.tracking import MlflowClient
from mlflow.types import Schema

from app.services.feature_checks import FeatureRule, feature_rules
from training.customers.forest_scorer import UnsupportedPipelineError
from training.customers.model import CustomerModel
from training.customers.scorer import CustomerScorer
from training.text.model import TextAnswers, TextClassifierModel, TextScorer
from training.text.terms import TextBatch

logger = logging.getLogger(__name__)

TEXT_MODELS = ("demand-classifier", "spam-filter")
CUSTOMER_MODELS = ("churn", "channel-preference", "occupation", "content-preference")
ALL_MODELS = TEXT_MODELS + CUSTOMER_MODELS
WARM_UP_TEXTS = ["我的流量怎么用得这么快，5G套餐能换吗", "宽带断网了"]


class SmokeTestError(Exception):
    """A loaded version that does not answer its input example as it should."""


@dataclass(frozen=True)
class ServedModel:
    """One loaded version of a registered model: where it came from, and when."""

    name: str
    version: str
    alias: str
    run_id: str
    loaded_at: datetime
    signature: ModelSignature  # the inputs and outputs MLflow recorded for the version

    @property
    def outputs(self) -> list[str]:
        raise NotImplementedError

    def ref(self) -> dict[str, str]:
        """Name, version and alias: what every answer says about the model that gave it."""
        return {"name": self.name, "version": self.version, "alias": self.alias}


@dataclass(frozen=True)
class ServedTextModel(ServedModel):
    model: TextClassifierModel

    @property
    def scorer(self) -> TextScorer:
        return self.model.scorer

    @property
    def classes(self) -> list[str]:
        return self.scorer.classes

    @property
    def outputs(self) -> list[str]:
        return self.classes

    def answer(self, texts: TextBatch | Sequence[str]) -> TextAnswers:
        return self.model.answer(texts)


@dataclass(frozen=True)
class ServedCustomerModel(ServedModel):
    model: CustomerModel

    @property
    def input_schema(self) -> Schema:
        return self.signature.inputs

    @property
    def outputs(self) -> list[str]:
        return list(self.model.pipelines)

    @cached_property
    def feature_rules(self) -> tuple[FeatureRule, ...]:
        """What a feature record must hold, by the signature: built once, checked per record."""
        return feature_rules(self.input_schema)

    def answer(self, records: list[dict], joint: CustomerScorer | None = None) -> list[dict]:
        """The model's answer for each feature record, as plain dicts; with ``joint`` (a
        scorer holding this model's targets among others) from its probabilities."""
        if joint is None or not set(self.model.pipelines) <= set(joint.targets):
            return self.model.answer_records(records)
        probabilities = joint.probabilities(records)
        return self.model.answer_records(
            records,
            probabilities={target: probabilities[target] for target in self.model.pipelines},
        )


class LoadedCustomerModel(Protocol):
    """A loaded customer-model version: the service's, or a batch engine's."""

    name: str
    version: str
    model: CustomerModel


def joint_scorer(models: Sequence[LoadedCustomerModel]) -> CustomerScorer | None:
    """One CustomerScorer for several customer models: one pass over all their targets answers
    them all (four models: ~0.3 ms a customer instead of ~0.6). None when they cannot share
    one (different feature specs, clashing target names, a pipeline it cannot reproduce).

    Built once per set of loaded versions (0.1-0.6 s) and reused by every snapshot that holds
    that set; the cache keeps the last few sets, so a swapped-out version is soon let go.
    """
    if len(models) < 2:
        return None
    key = tuple(id(served.model) for served in models)
    cached = _JOINT.get(key)
    if cached is not None and all(a is b for a, b in zip(cached[0], models)):
        return cached[1]
    try:
        scorer = CustomerScorer.from_models(*(served.model for served in models))
    except UnsupportedPipelineError as error:
        names = ", ".join(f"{served.name} {served.version}" for served in models)
        logger.warning("%s cannot share one scorer (%s); each model scores alone", names, error)
        scorer = None
    if len(_JOINT) >= 4:
        _JOINT.pop(next(iter(_JOINT)))
    _JOINT[key] = (tuple(models), scorer)
    return scorer


_JOINT: dict[tuple[int, ...], tuple[tuple[LoadedCustomerModel, ...], CustomerScorer | None]] = {}


def load_served_model(client: MlflowClient, version: ModelVersion, alias: str) -> ServedModel:
    """Load ``version``, served under ``alias``, and smoke-test it so the first request is warm.

    Raises ``SmokeTestError`` when it loads but does not answer its input example properly.
    """
    # From the version's own storage location: a models:/ URI would be resolved against
    # whichever registry this process last activated.
    pyfunc = load_pyfunc(client.get_model_version_download_uri(version.name, version.version))
    python_model = pyfunc.unwrap_python_model()
    origin = {
        "name": version.name,
        "version": str(version.version),
        "alias": alias,
        "run_id": version.run_id or "",
        "loaded_at": datetime.now(UTC),
        "signature": pyfunc.metadata.signature,
    }
    if isinstance(python_model, TextClassifierModel):
        served: ServedModel = ServedTextModel(**origin, model=python_model)
    elif isinstance(python_model, CustomerModel):
        served = ServedCustomerModel(**origin, model=python_model)
    else:
        raise TypeError(f"{version.name} version {version.version} is not a model we serve")
    try:
        smoke_test(served, pyfunc)
    except SmokeTestError:
        raise
    except Exception as error:  # its message may quote the example: name the type only
        raise SmokeTestError(f"{type(error).__name__} answering the input example") from None
    return served


def load_pyfunc(uri: str) -> mlflow.pyfunc.PyFuncModel:
    """The MLflow model at ``uri``, loaded with this process's own training package."""
    import_path = list(sys.path)
    try:
        return mlflow.pyfunc.load_model(uri)
    finally:
        # MLflow puts the model's shipped code folder (our training package, for `mlflow
        # models serve`) on sys.path at every load: one more entry per swap, for ever. This
        # process has the package imported already, so the path goes back as it was.
        sys.path[:] = import_path


def smoke_test(served: ServedModel, pyfunc: mlflow.pyfunc.PyFuncModel) -> None:
    """Answer the stored input example through pyfunc and through the fast path we serve with
    (which builds a customer model's CustomerScorer, or warms jieba and the text scorer)."""
    example = pyfunc.input_example
    if example is not None and len(pyfunc.predict(example)) != len(example):
        raise SmokeTestError("pyfunc gave a different number of answers than example rows")
    if isinstance(served, ServedTextModel):
        # Enough texts for a batch's numpy path: its lookup tables are built now, not by the
        # first large request.
        texts = WARM_UP_TEXTS * 4
        proba = served.answer(texts).probabilities
        expected = (len(texts), len(served.classes))
        if proba.shape != expected or not np.allclose(proba.sum(axis=1), 1.0):
            raise SmokeTestError("text scorer gave no probability distribution per text")
    elif isinstance(served, ServedCustomerModel) and example is not None:
        answers = served.answer(example.to_dict(orient="records"))
        if len(answers) != len(example):
            raise SmokeTestError("customer model gave a different number of answers than records")
