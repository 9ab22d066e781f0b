"""What an answer says, per model: its categorical outputs (a category, a level, a flag) and
its numeric outputs (probabilities, scores), and how a replayed answer differs field by field.

Customer models are read by the type of each field, so a model trained on another schema is
compared the same way; lists (a churn answer's risk factors) are explanations, not outputs.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from app.core.inference_paths import INFER, INFER_VERSION
from app.replay.selection import CLASSIFY, PROFILE, SCORE
from training.common.profile import answer_value

# A classify answer carries both text models' outputs side by side in one result.
CLASSIFY_FIELDS = {
    "demand-classifier": ("category", "confidence"),
    "spam-filter": ("spam", "spam_probability"),
}
# A profile's lifecycle stage moves with the churn probability (流失风险 above a bound).
PROFILE_FIELDS = {"churn": ("lifecycle_stage",)}
MISSING = "(missing)"


@dataclass(frozen=True)
class Outputs:
    """One model's outputs for one answered item (a text or a customer)."""

    categorical: dict[str, str]
    numeric: dict[str, float]


@dataclass(frozen=True)
class FieldPair:
    """One output of one item, as captured and as replayed."""

    model: str
    field: str
    item: int
    captured: Any
    replayed: Any
    categorical: bool

    @property
    def agrees(self) -> bool:
        return self.captured == self.replayed

    @property
    def change(self) -> float:
        return self.replayed - self.captured

    def describe(self) -> dict[str, Any]:
        """Which output of which item moved, from what to what: ids and values, no input."""
        fields = {"model": self.model, "field": self.field, "item": self.item}
        fields |= {"captured": self.captured, "replayed": self.replayed}
        return fields if self.categorical else {**fields, "change": self.change}


def answer_outputs(template: str, answer: Any) -> list[dict[str, Outputs]]:
    """Per answered item, in order, each model's outputs; an answer of another shape has none."""
    if not isinstance(answer, dict):
        return []
    if template == CLASSIFY:
        return [_classify_outputs(result) for result in _results(answer)]
    if template == SCORE:
        return [_model_outputs(result.get("scores")) for result in _results(answer)]
    if template in (INFER, INFER_VERSION):
        return _tensor_outputs(answer)
    if template == PROFILE:
        outputs = _model_outputs(answer.get("scores"))
        for model, fields in PROFILE_FIELDS.items():
            if model in outputs:
                extra = _outputs({f: answer.get(f) for f in fields})
                outputs[model].categorical.update(extra.categorical)
        return [outputs]
    return []


def compare_answers(template: str, captured: Any, replayed: Any) -> Iterator[FieldPair]:
    """Every output of every item, captured beside replayed; a side without it says missing."""
    before, after = answer_outputs(template, captured), answer_outputs(template, replayed)
    for item in range(max(len(before), len(after))):
        models_before = before[item] if item < len(before) else {}
        models_after = after[item] if item < len(after) else {}
        for model in sorted(models_before.keys() | models_after.keys()):
            yield from _pairs(model, item, models_before.get(model), models_after.get(model))


def _pairs(
    model: str, item: int, before: Outputs | None, after: Outputs | None
) -> Iterator[FieldPair]:
    empty = Outputs({}, {})
    before, after = before or empty, after or empty
    for field in sorted(before.categorical.keys() | after.categorical.keys()):
        captured = before.categorical.get(field, MISSING)
        replayed = after.categorical.get(field, MISSING)
        yield FieldPair(model, field, item, captured, replayed, categorical=True)
    for field in sorted(before.numeric.keys() & after.numeric.keys()):
        captured, replayed = before.numeric[field], after.numeric[field]
        yield FieldPair(model, field, item, captured, replayed, categorical=False)


def _results(answer: dict[str, Any]) -> list[dict[str, Any]]:
    results = answer.get("results")
    return [r for r in results if isinstance(r, dict)] if isinstance(results, list) else []


def _classify_outputs(result: dict[str, Any]) -> dict[str, Outputs]:
    return {
        model: _outputs({field: result.get(field) for field in fields})
        for model, fields in CLASSIFY_FIELDS.items()
    }


def _tensor_outputs(answer: dict[str, Any]) -> list[dict[str, Outputs]]:
    """An Open Inference Protocol answer: an item per row of its one-dimensional outputs (a
    probabilities matrix is left out, as /v1's top categories are)."""
    model, tensors = answer.get("model_name"), answer.get("outputs")
    if not isinstance(model, str) or not isinstance(tensors, list):
        return []
    columns = {
        tensor["name"]: tensor["data"]
        for tensor in tensors
        if isinstance(tensor, dict)
        and isinstance(tensor.get("data"), list)
        and len(tensor.get("shape") or ()) == 1
    }
    rows = {len(values) for values in columns.values()}
    if len(rows) != 1:
        return []
    return [
        {model: _outputs({name: values[row] for name, values in columns.items()})}
        for row in range(rows.pop())
    ]


def _model_outputs(scores: Any) -> dict[str, Outputs]:
    if not isinstance(scores, dict):
        return {}
    return {model: _outputs(answer) for model, answer in scores.items() if isinstance(answer, dict)}


def _outputs(fields: dict[str, Any]) -> Outputs:
    """Read as the reference profiles read answers at training, so drift compares like with
    like: a flag as "true" or "false", a label as it is, a number as a float."""
    categorical: dict[str, str] = {}
    numeric: dict[str, float] = {}
    for field, value in fields.items():
        read = answer_value(value)
        if isinstance(read, str):
            categorical[field] = read
        elif read is not None:
            numeric[field] = read
    return Outputs(categorical, numeric)
