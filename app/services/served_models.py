"""Registered models loaded for serving, and the catalog the service answers from."""

from __future__ import annotations

import gc
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import mlflow.pyfunc
import numpy as np
from mlflow.tracking import MlflowClient
from mlflow.types import Schema

from model_registry.registry import ModelNotFoundError, resolve_version
from model_registry.store import MlflowStore
from training.tabular_model import CustomerModel
from training.text_model import AnalyzedText, TextClassifierModel, TextScorer

logger = logging.getLogger(__name__)

TEXT_MODELS = ("demand-classifier", "spam-filter")
CUSTOMER_MODELS = ("churn", "channel-preference", "occupation", "content-preference")
ALL_MODELS = TEXT_MODELS + CUSTOMER_MODELS
WARM_UP_TEXTS = ["我的流量怎么用得这么快，5G套餐能换吗", "宽带断网了"]


@dataclass(frozen=True)
class ServedModel:
    """One loaded version of a registered model: where it came from, and when."""

    name: str
    version: str
    alias: str
    run_id: str
    loaded_at: datetime

    @property
    def outputs(self) -> list[str]:
        raise NotImplementedError

    def ref(self) -> dict[str, str]:
        """Name, version and alias: what every answer says about the model that gave it."""
        return {"name": self.name, "version": self.version, "alias": self.alias}


@dataclass(frozen=True)
class ServedTextModel(ServedModel):
    scorer: TextScorer

    @property
    def classes(self) -> list[str]:
        return self.scorer.classes

    @property
    def outputs(self) -> list[str]:
        return self.classes

    def predict_proba(self, texts: Sequence[str | AnalyzedText]) -> np.ndarray:
        return self.scorer.predict_proba(texts)


@dataclass(frozen=True)
class ServedCustomerModel(ServedModel):
    model: CustomerModel
    input_schema: Schema

    @property
    def outputs(self) -> list[str]:
        return list(self.model.pipelines)

    def answer(self, records: list[dict]) -> list[dict]:
        """The model's answer for each feature record, as plain dicts."""
        return self.model.answer_records(records)


def load_served_model(client: MlflowClient, name: str, alias: str) -> ServedModel:
    """Load the version behind ``alias`` and answer once, so the first request is warm."""
    version = resolve_version(client, name, alias=alias)
    pyfunc = mlflow.pyfunc.load_model(f"models:/{name}/{version.version}")
    python_model = pyfunc.unwrap_python_model()
    origin = {
        "name": name,
        "version": str(version.version),
        "alias": alias,
        "run_id": version.run_id or "",
        "loaded_at": datetime.now(UTC),
    }
    if isinstance(python_model, TextClassifierModel):
        python_model.scorer.predict_proba(WARM_UP_TEXTS)
        return ServedTextModel(**origin, scorer=python_model.scorer)
    if isinstance(python_model, CustomerModel):
        served = ServedCustomerModel(
            **origin, model=python_model, input_schema=pyfunc.metadata.get_input_schema()
        )
        served.answer(pyfunc.input_example.to_dict(orient="records"))
        return served
    raise TypeError(f"{name} version {version.version} is not a model this service can serve")


@dataclass
class ModelCatalog:
    """The models the service answers from, with what failed to load and why."""

    alias: str
    models: dict[str, ServedModel] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)
    loaded: threading.Event = field(default_factory=threading.Event)

    @property
    def ready(self) -> bool:
        return self.loaded.is_set() and not self.failures

    def get(self, name: str) -> ServedModel | None:
        return self.models.get(name)

    def load(self, store: MlflowStore, names: Sequence[str] = ALL_MODELS) -> None:
        """Load every named model behind the alias; record failures instead of raising."""
        client = store.activate()
        for name in names:
            try:
                self.models[name] = load_served_model(client, name, self.alias)
            except ModelNotFoundError as error:
                self.failures[name] = str(error)
            except Exception as error:  # a broken artifact must not stop the others
                logger.exception("loading %s@%s failed", name, self.alias)
                self.failures[name] = f"failed to load: {type(error).__name__}"
        # Loaded models and MLflow's imports leave some 350,000 long-lived objects; a full
        # collection walks them all (150 ms measured here), stalling every request in flight.
        gc.freeze()
        self.loaded.set()
        logger.info("models loaded: %s; failed: %s", sorted(self.models), sorted(self.failures))
