"""The Open Inference Protocol ("V2", KServe, MLServer, Triton) for the served models: each
version's metadata from its MLflow signature, request tensors to the texts or feature records
our models read, their answers to output tensors named as the ``/v1`` answers name them.

Text models take one BYTES tensor of texts. Customer models take one tensor per feature column
(MLServer's ``pd`` convention: the request's ``content_type`` parameter says so, or every input
is named after a column), or a single ``[rows, columns]`` tensor in the metadata's column
order. Elements are coerced to the column's type where that loses nothing (``"55"`` in a BYTES
tensor to 55 for a number column; ``""``, ``"nan"``, ``"None"`` there to a blank), else
refused naming the input and row. Triton's binary tensor extension is not spoken: a request
that asks for it is refused with 400.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from mlflow.types import DataType
from pydantic import BaseModel, Field, ValidationError

from app.core.errors import ProblemError
from app.services.demand_classification import text_rule
from app.services.feature_checks import FeatureRule, fits_rule
from app.services.served_models import ServedCustomerModel, ServedModel, ServedTextModel
from training.customers.scorer import CustomerScorer
from training.text.data import SPAM
from training.text.terms import TextBatch

PLATFORM = "mlflow_pyfunc"
PANDAS = "pd"  # MLServer's content type: each input one column of a table
BYTES, BOOL, FP64 = "BYTES", "BOOL", "FP64"
INTEGER_TYPES = {"INT8", "INT16", "INT32", "INT64", "UINT8", "UINT16", "UINT32", "UINT64"}
NUMBER_TYPES = INTEGER_TYPES | {"FP16", "FP32", FP64}
DATATYPES = NUMBER_TYPES | {BYTES, BOOL, "BF16"}
SIGNATURE_TYPES = {
    DataType.string: BYTES,
    DataType.binary: BYTES,
    DataType.boolean: BOOL,
    DataType.integer: "INT32",
    DataType.long: "INT64",
    DataType.float: "FP32",
    DataType.double: FP64,
    DataType.datetime: BYTES,
}
PROBABILITY_DIGITS = 4  # as the /v1 answers round them


BINARY_REFUSAL = (
    "the binary tensor extension is not supported ({asked} asks for it): send tensors as JSON "
    "(tritonclient: binary_data=False on every input and requested output)"
)


class InvalidTensorError(ProblemError):
    """A request the protocol's servers answer 400: a tensor of the wrong name, shape, type."""

    status = 400
    title = "Invalid inference request"


Scalar = str | int | float | bool


class RequestInput(BaseModel):
    name: str
    shape: list[int] = Field(description="Each dimension 0 or more.")
    datatype: str
    parameters: dict[str, Scalar | None] | None = None
    data: Any = Field(None, description="The elements, flat or nested, in row-major order.")


class RequestOutput(BaseModel):
    name: str
    parameters: dict[str, Scalar | None] | None = None


class InferenceRequest(BaseModel):
    """The protocol's ``$inference_request``."""

    id: str | None = None
    parameters: dict[str, Scalar | None] | None = None
    inputs: list[RequestInput] = Field(min_length=1)
    outputs: list[RequestOutput] | None = None


@dataclass(frozen=True)
class Tensor:
    """An output tensor (or a metadata tensor, whose data is None and shape holds -1)."""

    name: str
    datatype: str
    shape: list[int]
    data: list[Any] | None = None
    parameters: Mapping[str, Scalar] | None = None

    def as_json(self) -> dict[str, Any]:
        found: dict[str, Any] = {"name": self.name, "datatype": self.datatype, "shape": self.shape}
        if self.parameters:
            found["parameters"] = dict(self.parameters)
        if self.data is not None:
            found["data"] = self.data
        return found


# --- metadata -------------------------------------------------------------------------------


def model_metadata(served: ServedModel, versions: Sequence[str]) -> dict[str, Any]:
    """The protocol's ``$metadata_model_response`` for a loaded version."""
    return {
        "name": served.name,
        "versions": list(versions),
        "platform": PLATFORM,
        "inputs": [tensor.as_json() for tensor in input_tensors(served)],
        "outputs": [tensor.as_json() for tensor in output_tensors(served)],
    }


def input_tensors(served: ServedModel) -> list[Tensor]:
    """One tensor per input column of the version's signature, a batch dimension of -1."""
    return [
        Tensor(column.name, SIGNATURE_TYPES.get(column.type, BYTES), [-1])
        for column in served.signature.inputs.inputs
    ]


def output_tensors(served: ServedModel) -> list[Tensor]:
    """What ``infer`` answers: for a customer model the signature's output columns; for a
    text model the fields of the /v1 answer it gives (a class order in ``parameters``)."""
    if isinstance(served, ServedTextModel):
        return [
            Tensor(name, datatype, shape, parameters=parameters)
            for name, datatype, shape, parameters in _text_outputs(served)
        ]
    return [
        Tensor(column.name, SIGNATURE_TYPES.get(column.type, BYTES), [-1])
        for column in served.signature.outputs.inputs
    ]


def _is_spam_filter(served: ServedTextModel) -> bool:
    return SPAM in served.classes and len(served.classes) == 2


@functools.lru_cache(maxsize=16)
def _class_order(classes: tuple[str, ...]) -> dict[str, str]:
    """The ``parameters`` of a probabilities tensor: its column order, a JSON array."""
    return {"classes": json.dumps(classes, ensure_ascii=False)}


def _text_outputs(served: ServedTextModel) -> list[tuple[str, str, list[int], dict | None]]:
    if _is_spam_filter(served):
        return [
            ("spam", BOOL, [-1], None),
            ("spam_probability", FP64, [-1], None),
            ("needs_review", BOOL, [-1], None),
        ]
    return [
        ("category", BYTES, [-1], None),
        ("confidence", FP64, [-1], None),
        ("probabilities", FP64, [-1, len(served.classes)], _class_order(tuple(served.classes))),
        ("needs_review", BOOL, [-1], None),
    ]


# --- inference ------------------------------------------------------------------------------


def refuse_binary_extension(request: InferenceRequest) -> None:
    """Triton's binary tensor extension is not spoken: say so plainly."""
    asked = [
        where
        for where, parameters in (
            ("the request's parameters", request.parameters),
            *((f"input {i.name!r}", i.parameters) for i in request.inputs),
            *((f"output {o.name!r}", o.parameters) for o in request.outputs or ()),
        )
        if parameters
        and (
            parameters.get("binary_data_output")
            or parameters.get("binary_data")
            or "binary_data_size" in parameters
        )
    ]
    if asked:
        raise InvalidTensorError(BINARY_REFUSAL.format(asked=asked[0]))


def infer_texts(
    served: ServedTextModel, request: InferenceRequest, *, max_texts: int, max_chars: int
) -> list[str]:
    """The texts of a text model's request: one BYTES input, one text per row."""
    expected = served.signature.inputs.inputs[0].name
    if len(request.inputs) != 1 or request.inputs[0].name != expected:
        names = ", ".join(repr(i.name) for i in request.inputs)
        raise InvalidTensorError(
            f"{served.name} takes one input, {expected!r} (BYTES, shape [-1]); got {names}"
        )
    (tensor,) = request.inputs
    (texts,) = _as_columns(request.inputs).values()
    if tensor.datatype != BYTES or not all(isinstance(text, str) for text in texts):
        raise InvalidTensorError(f"input {tensor.name!r}: texts are BYTES, each a UTF-8 string")
    _check_rows(tensor.name, len(texts), max_texts, "texts")
    for row, text in enumerate(texts):
        if rule := text_rule(text, max_chars):
            raise InvalidTensorError(f"input {tensor.name!r}, row {row}: {rule}")
    return texts


def text_outputs(served: ServedTextModel, texts: list[str]) -> list[Tensor]:
    """The text model's answers as output tensors (the fields of the /v1 answer it gives)."""
    answers = served.answer(TextBatch(texts))
    rows = len(texts)
    if _is_spam_filter(served):
        columns = {
            "spam": answers.says(SPAM).tolist(),
            "spam_probability": _rounded(answers.probability(SPAM)),
            "needs_review": answers.needs_review.tolist(),
        }
    else:
        columns = {
            "category": answers.labels.tolist(),
            "confidence": _rounded(answers.confidence),
            "probabilities": _rounded(answers.probabilities.ravel()),
            "needs_review": answers.needs_review.tolist(),
        }
    return [
        Tensor(name, datatype, [rows, *shape[1:]], columns[name], parameters)
        for name, datatype, shape, parameters in _text_outputs(served)
    ]


def _rounded(values: np.ndarray) -> list[float]:
    return np.round(values, PROBABILITY_DIGITS).tolist()


def infer_records(
    served: ServedCustomerModel, request: InferenceRequest, *, max_customers: int
) -> list[dict[str, Any]]:
    """The feature records of a customer model's request: a tensor per column, or one
    ``[rows, columns]`` tensor; each value checked against the signature's column."""
    rules = {rule.name: rule for rule in served.feature_rules}
    columns = _columns(request, list(rules))
    rows = {len(values) for values in columns.values()}
    if len(rows) > 1:
        sizes = ", ".join(f"{name!r} {len(values)}" for name, values in columns.items())
        raise InvalidTensorError(f"every input must hold the same number of rows: {sizes}")
    (count,) = rows
    _check_rows("every input", count, max_customers, "customers")
    missing = [rule.name for rule in rules.values() if rule.required and rule.name not in columns]
    if missing:
        raise InvalidTensorError(
            f"{served.name} needs an input per feature column; missing: {', '.join(missing)}"
        )
    checked = {name: _column_values(name, values, rules[name]) for name, values in columns.items()}
    return [dict(zip(checked, values)) for values in zip(*checked.values())]


def customer_outputs(
    served: ServedCustomerModel,
    records: list[dict[str, Any]],
    joint: CustomerScorer | None,
) -> list[Tensor]:
    """The customer model's answers as one tensor per output column of its signature."""
    answers = served.answer(records, joint)
    return [
        Tensor(tensor.name, tensor.datatype, [len(records)], [a[tensor.name] for a in answers])
        for tensor in output_tensors(served)
    ]


def requested(outputs: list[Tensor], request: InferenceRequest) -> list[Tensor]:
    """The outputs the request names (all when it names none), in its order."""
    if not request.outputs:
        return outputs
    by_name = {tensor.name: tensor for tensor in outputs}
    unknown = [o.name for o in request.outputs if o.name not in by_name]
    if unknown:
        raise InvalidTensorError(
            f"unknown output {unknown[0]!r}; the outputs are {', '.join(by_name)}"
        )
    return [by_name[o.name] for o in request.outputs]


def captured_items(body: Any, *, texts: bool) -> list[Any] | None:
    """The texts (``texts``) or feature records of an inference request as capture stored it
    (masked), for drift; None for a body that is not one, or a single ``[rows, columns]``
    tensor, whose columns it does not name."""
    try:
        columns = _as_columns(InferenceRequest.model_validate(body).inputs)
    except (ValidationError, InvalidTensorError):
        return None
    if texts:
        return next(iter(columns.values())) if len(columns) == 1 else None
    return [dict(zip(columns, values)) for values in zip(*columns.values())]


def _columns(request: InferenceRequest, names: list[str]) -> dict[str, list[Any]]:
    """Column name -> its values, from either request form."""
    content_type = (request.parameters or {}).get("content_type")
    as_columns = content_type == PANDAS or (
        len(request.inputs) > 1 or (request.inputs[0].name in names)
    )
    if as_columns:
        unknown = [tensor.name for tensor in request.inputs if tensor.name not in names]
        if unknown:
            raise InvalidTensorError(
                f"input {unknown[0]!r} is not a feature column of this model "
                "(GET the model's metadata for its inputs)"
            )
        columns = _as_columns(request.inputs)
        return {tensor.name: _typed(tensor, columns[tensor.name]) for tensor in request.inputs}
    (tensor,) = request.inputs
    rows, width = _rows_and_width(tensor)
    if len(tensor.shape) != 2 or width != len(names):
        raise InvalidTensorError(
            f"input {tensor.name!r}: one tensor holds every feature, shape [n, {len(names)}] "
            f"(columns in the metadata's order); or send an input per column with the request "
            f'parameter content_type "{PANDAS}"'
        )
    values = _typed(tensor, _elements(tensor, rows * width))
    return {name: values[column::width] for column, name in enumerate(names)}


def _as_columns(inputs: list[RequestInput]) -> dict[str, list[Any]]:
    """Each input one column (shape ``[n]`` or ``[n, 1]``): its name -> its elements."""
    columns: dict[str, list[Any]] = {}
    for tensor in inputs:
        if tensor.name in columns:
            raise InvalidTensorError(f"input {tensor.name!r} is given twice")
        rows, width = _rows_and_width(tensor)
        if width != 1:
            raise InvalidTensorError(f"input {tensor.name!r}: a column's shape is [n] or [n, 1]")
        columns[tensor.name] = _elements(tensor, rows)
    return columns


def _rows_and_width(tensor: RequestInput) -> tuple[int, int]:
    shape = tensor.shape
    if not 1 <= len(shape) <= 2 or any(dimension < 0 for dimension in shape):
        raise InvalidTensorError(
            f"input {tensor.name!r}: shape {shape} is not [rows] or [rows, columns]"
        )
    return shape[0], shape[1] if len(shape) == 2 else 1


def _check_rows(name: str, rows: int, limit: int, what: str) -> None:
    if rows == 0:
        raise InvalidTensorError(f"{name}: no rows; send at least one")
    if rows > limit:
        raise InvalidTensorError(f"{name}: {rows} rows; at most {limit} {what} per request")


def _elements(tensor: RequestInput, expected: int) -> list[Any]:
    """The tensor's elements, flat: the data flat, or nested as the shape (row-major)."""
    if not isinstance(tensor.data, list):
        raise InvalidTensorError(f"input {tensor.name!r}: data must be a JSON array")
    flat = tensor.data
    for _ in range(len(tensor.shape) - 1):
        nested = [isinstance(item, list) for item in flat]
        if not any(nested):
            break
        if not all(nested):
            raise InvalidTensorError(f"input {tensor.name!r}: data mixes arrays and elements")
        flat = [element for row in flat for element in row]
    if any(isinstance(item, list) for item in flat):
        raise InvalidTensorError(
            f"input {tensor.name!r}: data nests deeper than its shape {tensor.shape}"
        )
    if len(flat) != expected:
        raise InvalidTensorError(
            f"input {tensor.name!r}: shape {tensor.shape} needs {expected} elements, "
            f"data holds {len(flat)}"
        )
    return flat


def _typed(tensor: RequestInput, values: list[Any]) -> list[Any]:
    """Elements that are of the tensor's datatype (null: a blank)."""
    datatype = tensor.datatype
    if datatype not in DATATYPES:
        raise InvalidTensorError(f"input {tensor.name!r}: unknown datatype {datatype!r}")
    fits = _FITS.get(datatype, _is_number)
    for row, value in enumerate(values):
        if value is not None and not fits(value):
            raise InvalidTensorError(
                f"input {tensor.name!r}, element {row}: not of datatype {datatype}"
            )
    return values


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_integer(value: Any) -> bool:
    return _is_number(value) and (isinstance(value, int) or float(value).is_integer())


_FITS = {
    # BYTES: a string, or any JSON scalar in a table's tensor (coerced by its column's rule)
    BYTES: lambda value: isinstance(value, str | int | float | bool),
    BOOL: lambda value: isinstance(value, bool),
    **{datatype: _is_integer for datatype in INTEGER_TYPES},
}


def _column_values(name: str, values: list[Any], rule: FeatureRule) -> list[Any]:
    """A column's values as the model reads them: strings of numbers become numbers for a
    number column; anything else must already be of the column's type."""
    checked = []
    for row, value in enumerate(values):
        if rule.kind == "a number" and isinstance(value, str):
            value = _number(value)
        if value is not None and rule.types and not fits_rule(value, rule):
            raise InvalidTensorError(f"input {name!r}, row {row}: must be {rule.kind}")
        checked.append(value)
    return checked


BLANKS = {"", "nan", "none", "null"}  # a blank in a number column, as a string tensor spells it


def _number(text: str) -> int | float | str | None:
    if text.strip().lower() in BLANKS:
        return None
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text  # refused by the rule, naming the row
