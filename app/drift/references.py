"""A model version's reference profile, and its text model, fetched through MLflow."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from app.services.served_models import load_pyfunc
from training.common.profile import PROFILE_ARTIFACT, PROFILE_FORMAT
from training.text.model import TextClassifierModel


class NoProfileError(LookupError):
    """A version without a reference profile: trained before profiles were logged."""


def reference_profile(client: MlflowClient, model: str, version: str) -> dict[str, Any]:
    """The ``reference_profile.json`` of the run that registered ``model`` ``version``."""
    try:
        run_id = client.get_model_version(model, version).run_id
        with tempfile.TemporaryDirectory(prefix="insight-profile-") as folder:
            path = client.download_artifacts(run_id, PROFILE_ARTIFACT, folder)
            profile = json.loads(Path(path).read_text(encoding="utf-8"))
    except (MlflowException, OSError, ValueError):
        raise NoProfileError(
            f"{model} version {version} has no reference profile ({PROFILE_ARTIFACT} in its "
            "training run): it was trained before profiles were logged; retrain it to monitor "
            "its drift"
        ) from None
    if profile.get("format") != PROFILE_FORMAT:
        raise NoProfileError(f"{model} version {version}: unknown reference profile format")
    return profile


def text_model(client: MlflowClient, model: str, version: str) -> TextClassifierModel:
    """The text model of ``model`` ``version``, whose vocabulary the traffic is read with."""
    loaded = load_pyfunc(client.get_model_version_download_uri(model, version))
    return loaded.unwrap_python_model()
