"""The production traffic of a window, per model version: the inputs each version answered
(texts, customer records, as capture stored them: masked) and the fields of its answers."""

from __future__ import annotations

from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from app.core.inference_paths import INFER, INFER_VERSION
from app.replay.outputs import Outputs, answer_outputs
from app.replay.selection import CLASSIFY, SCORE, Captured, ReplayFilter, read_captured
from app.services.open_inference import captured_items
from app.services.served_models import TEXT_MODELS
from model_registry.registry import PRODUCTION


@dataclass
class VersionTraffic:
    """What one model version answered in the window: one input and one answer per item."""

    model: str
    version: str
    texts: list[str] = field(default_factory=list)
    records: list[dict[str, Any]] = field(default_factory=list)
    answers: dict[str, list[Any]] = field(default_factory=dict)  # per answer field, its values
    items: int = 0

    def add(self, given: Any, answered: Outputs) -> None:
        if isinstance(given, str):
            self.texts.append(given)
        else:
            self.records.append(given)
        for name, value in (answered.categorical | answered.numeric).items():
            self.answers.setdefault(name, []).append(value)
        self.items += 1


def production_traffic(
    sessions: sessionmaker[Session], selection: ReplayFilter, models: Collection[str] = ()
) -> dict[tuple[str, str], VersionTraffic]:
    """Per (model, version) answering from the production alias, its traffic in the window
    (classify and score requests answered 2xx); only ``models`` when given."""
    found: dict[tuple[str, str], VersionTraffic] = {}
    for captured in read_captured(sessions, selection):
        versions = {
            ref["name"]: ref["version"]
            for ref in captured.model_versions
            if ref.get("alias") == PRODUCTION
        }
        for given, answered in _items(captured):
            for model, outputs in answered.items():
                if model not in versions or (models and model not in models):
                    continue
                key = (model, versions[model])
                found.setdefault(key, VersionTraffic(*key)).add(given, outputs)
    return found


def traffic_filter(since, until) -> ReplayFilter:
    """The captured requests drift reads: classify, score and /v2 infer, answered 2xx, in the
    window."""
    return ReplayFilter(since, until, endpoints=(CLASSIFY, SCORE, INFER, INFER_VERSION))


def _items(captured: Captured) -> Iterator[tuple[Any, dict[str, Outputs]]]:
    """Each answered item's input (a text or a feature record) with each model's outputs."""
    body = captured.body if isinstance(captured.body, dict) else {}
    if captured.template == CLASSIFY:
        inputs = [body["text"]] if isinstance(body.get("text"), str) else body.get("texts")
    elif captured.template in (INFER, INFER_VERSION):
        answer = captured.answer if isinstance(captured.answer, dict) else {}
        inputs = captured_items(body, texts=answer.get("model_name") in TEXT_MODELS)
    else:
        customers = body.get("customers")
        customers = customers if isinstance(customers, list) else []
        inputs = [c.get("features") if isinstance(c, dict) else None for c in customers]
    outputs = answer_outputs(captured.template, captured.answer)
    if not isinstance(inputs, list) or len(inputs) != len(outputs):
        return
    for given, answered in zip(inputs, outputs):
        if isinstance(given, str | dict):
            yield given, answered
