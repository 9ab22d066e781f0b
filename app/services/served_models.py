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

from model_registry.registry import ModelNotFoundError, resolve_version
from model_registry.store import MlflowStore
from training.text_model import AnalyzedText, TextScorer

logger = logging.getLogger(__name__)

TEXT_MODELS = ("demand-classifier", "spam-filter")
WARM_UP_TEXTS = ["我的流量怎么用得这么快，5G套餐能换吗", "宽带断网了"]


@dataclass(frozen=True)
class ServedTextModel:
    """One loaded version of a registered text model."""

    name: str
    version: str
    alias: str
    run_id: str
    loaded_at: datetime
    scorer: TextScorer

    @property
    def classes(self) -> list[str]:
        return self.scorer.classes

    def predict_proba(self, texts: Sequence[str | AnalyzedText]) -> np.ndarray:
        return self.scorer.predict_proba(texts)


def load_text_model(client: MlflowClient, name: str, alias: str) -> ServedTextModel:
    """Load the version behind ``alias`` and answer two texts once, so the first request is warm."""
    version = resolve_version(client, name, alias=alias)
    pyfunc = mlflow.pyfunc.load_model(f"models:/{name}/{version.version}")
    scorer = pyfunc.unwrap_python_model().scorer
    scorer.predict_proba(WARM_UP_TEXTS)
    return ServedTextModel(
        name=name,
        version=str(version.version),
        alias=alias,
        run_id=version.run_id or "",
        loaded_at=datetime.now(UTC),
        scorer=scorer,
    )


@dataclass
class ModelCatalog:
    """The models the service answers from, with what failed to load and why."""

    alias: str
    models: dict[str, ServedTextModel] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)
    loaded: threading.Event = field(default_factory=threading.Event)

    @property
    def ready(self) -> bool:
        return self.loaded.is_set() and not self.failures

    def get(self, name: str) -> ServedTextModel | None:
        return self.models.get(name)

    def load(self, store: MlflowStore, names: tuple[str, ...] = TEXT_MODELS) -> None:
        """Load every named model behind the alias; record failures instead of raising."""
        client = store.activate()
        for name in names:
            try:
                self.models[name] = load_text_model(client, name, self.alias)
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
