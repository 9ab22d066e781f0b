"""The Open Inference Protocol's inference paths, for the middleware that works before routing
(body limits, capture): their route templates, and which a concrete path is."""

from __future__ import annotations

import re

INFER = "/v2/models/{model_name}/infer"
INFER_VERSION = "/v2/models/{model_name}/versions/{model_version}/infer"
_INFER_PATH = re.compile(
    r"/v2/models/(?P<model_name>[^/]+)(?:/versions/(?P<model_version>[^/]+))?/infer"
)


def infer_path(path: str) -> tuple[str, dict[str, str]] | None:
    """The route template and path parameters of an inference path; None for any other."""
    match = _INFER_PATH.fullmatch(path)
    if match is None:
        return None
    if match["model_version"] is None:
        return INFER, {"model_name": match["model_name"]}
    return INFER_VERSION, match.groupdict()
