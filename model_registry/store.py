"""Where MLflow keeps runs, artifacts and the model registry."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import mlflow
from mlflow.tracking import MlflowClient


@dataclass(frozen=True)
class MlflowStore:
    """A tracking and registry URI plus the folder new experiments keep their artifacts in."""

    tracking_uri: str
    artifact_root: str

    @classmethod
    def embedded(cls, data_dir: Path) -> MlflowStore:
        """The no-setup default: a SQLite file and an artifacts folder under ``data_dir``."""
        data_dir = data_dir.resolve()
        data_dir.mkdir(parents=True, exist_ok=True)
        return cls(
            tracking_uri=f"sqlite:///{data_dir / 'mlflow.db'}",
            artifact_root=(data_dir / "mlartifacts").as_uri(),
        )

    def activate(self) -> MlflowClient:
        """Point this process's MLflow at the store and return a client for it."""
        mlflow.set_tracking_uri(self.tracking_uri)
        mlflow.set_registry_uri(self.tracking_uri)
        return MlflowClient(tracking_uri=self.tracking_uri, registry_uri=self.tracking_uri)

    def experiment_id(self, name: str) -> str:
        """The id of the named experiment, created with its artifacts under our root."""
        client = self.activate()
        experiment = client.get_experiment_by_name(name)
        if experiment is not None:
            return experiment.experiment_id
        return client.create_experiment(name, artifact_location=f"{self.artifact_root}/{name}")
