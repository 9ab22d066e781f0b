"""Logging a trained model into the active MLflow run and registering it: one way for all."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import sklearn
from mlflow.models import infer_signature

# Shipped with every model (code_paths), so `mlflow models serve` and pyfunc users can load it.
TRAINING_PACKAGE = Path(__file__).resolve().parents[1]


def log_and_register(
    model: mlflow.pyfunc.PythonModel, *, model_name: str, example: pd.DataFrame, card: str
) -> str:
    """Log ``model`` with its signature, input example and card; return the new version."""
    info = mlflow.pyfunc.log_model(
        name="model",
        python_model=model,
        signature=infer_signature(example, model.predict(None, example)),
        input_example=example,
        code_paths=[str(TRAINING_PACKAGE)],
        pip_requirements=pip_requirements(),
        registered_model_name=model_name,
        metadata={"model_card": card, "task": model_name},
    )
    return str(info.registered_model_version)


def pip_requirements() -> list[str]:
    """Exact versions, so MLflow does not spend seconds inferring them in a subprocess."""
    return [
        f"mlflow=={mlflow.__version__}",
        f"scikit-learn=={sklearn.__version__}",
        f"numpy=={np.__version__}",
        f"pandas=={pd.__version__}",
        "jieba==0.42.1",
        f"opencc=={importlib.metadata.version('opencc')}",
    ]
