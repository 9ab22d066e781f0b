"""Scoring a chunk of a table with the chosen registered models: the one piece both batch
engines run (the local engine in its worker processes, Spark inside ``mapInPandas``), so the
two answer alike.

A chunk's answer is one row per good input row: the customer's id (or, without an id column,
the row's file and position), each model's answer in the columns the HTTP API names, and each
model's version. A row that breaks a model's signature (a numeric feature that is not a number,
a blank text) is skipped and reported with its file, position and reason, never coerced.
Reasons name the column and the rule, never the value: it is customer data.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd
from mlflow.types import Schema

from app.services.customer_records import number_column
from app.services.feature_checks import FeatureRule, feature_rules
from app.services.served_models import WARM_UP_TEXTS, joint_scorer, load_pyfunc
from training.common.labels import DataError
from training.customers.model import CustomerModel
from training.text.data import SPAM
from training.text.model import TextClassifierModel
from training.text.terms import TextBatch

PROBLEM_COLUMNS = ("source_file", "source_row", "id", "reason")


@dataclass(frozen=True)
class ModelSource:
    """A registered model version to score with, and where its files are."""

    name: str
    version: str
    uri: str

    def load(self) -> BatchModel:
        pyfunc = load_pyfunc(self.uri)
        return BatchModel(
            self,
            pyfunc.unwrap_python_model(),
            pyfunc.metadata.get_input_schema(),
            pyfunc.input_example,
        )


@dataclass(frozen=True)
class BatchModel:
    source: ModelSource
    model: CustomerModel | TextClassifierModel
    input_schema: Schema | None
    input_example: pd.DataFrame | None

    @property
    def name(self) -> str:
        return self.source.name

    @property
    def version(self) -> str:
        return self.source.version

    @property
    def version_column(self) -> str:
        return f"{self.name.replace('-', '_')}_version"

    @cached_property
    def rules(self) -> tuple[FeatureRule, ...]:
        return feature_rules(self.input_schema) if self.input_schema else ()


class ChunkScorer:
    """The answers of the chosen models for one chunk of rows, and the rows it skipped."""

    def __init__(self, models: Sequence[BatchModel], *, id_column: str | None, text_column: str):
        if not models:
            raise DataError("no models to score with")
        self.models = list(models)
        self.id_column = id_column
        self.text_column = text_column
        self.customer_models = [m for m in models if isinstance(m.model, CustomerModel)]
        self.text_models = [m for m in models if isinstance(m.model, TextClassifierModel)]
        self.joint = joint_scorer(self.customer_models)
        rules = {rule.name: rule for model in self.customer_models for rule in model.rules}
        self.number_columns = [name for name, rule in rules.items() if rule.finite]
        self.required = required_columns(
            [model.input_schema for model in self.customer_models],
            id_column=id_column,
            text_column=text_column if self.text_models else None,
        )
        self.never_blank = [id_column] if id_column else []
        self.never_blank += [text_column] if self.text_models else []

    @classmethod
    def load(
        cls, sources: Sequence[ModelSource], *, id_column: str | None, text_column: str
    ) -> ChunkScorer:
        return cls(
            [source.load() for source in sources], id_column=id_column, text_column=text_column
        )

    def check_columns(self, columns: Sequence[str]) -> None:
        check_columns(columns, self.required)

    def score(self, frame: pd.DataFrame, *, file: str | np.ndarray, rows: np.ndarray) -> Scored:
        """Answers for the good rows of ``frame``, which are rows ``rows`` of ``file`` (a name,
        or each row's)."""
        self.check_columns(list(frame.columns))
        frame = frame.reset_index(drop=True)
        where = pd.DataFrame(
            {"source_file": file, "source_row": np.asarray(rows, dtype=np.int64)},
            index=frame.index,
        )
        numbers, reasons = self._checked_numbers(frame)
        for column in self.never_blank:
            for i in np.flatnonzero(_blank(frame[column])):
                reasons[int(i)].append(f"{column}: blank")
        good = np.setdiff1d(np.arange(len(frame)), list(reasons), assume_unique=True)
        if self.id_column:
            columns = {self.id_column: _id_text(frame[self.id_column].iloc[good]).to_numpy()}
        else:
            columns = {name: values.to_numpy()[good] for name, values in where.items()}
        if len(good):
            features = frame.iloc[good].assign(**{k: v[good] for k, v in numbers.items()})
            for answer in self._customer_answers(features) + self._text_answers(features):
                columns.update(answer)
        for model in self.models:
            columns[model.version_column] = [model.version] * len(good)
        return Scored(pd.DataFrame(columns), self._problems(frame, where, reasons))

    def sample(self) -> pd.DataFrame:
        """The answer to the first row of each model's stored input example, joined into one
        row: the columns and types every chunk's answers have (Spark's output schema)."""
        row: dict[str, object] = {}
        for model in self.models:
            if model.input_example is not None:
                row.update(model.input_example.iloc[0].to_dict())
        if self.id_column:
            row[self.id_column] = "example"
        if self.text_models:
            row[self.text_column] = WARM_UP_TEXTS[0]
        return self.score(pd.DataFrame([row]), file="example", rows=np.zeros(1)).answers

    def _checked_numbers(self, frame: pd.DataFrame) -> tuple[dict, dict[int, list[str]]]:
        reasons: dict[int, list[str]] = defaultdict(list)
        numbers = {}
        for name in self.number_columns:
            if name not in frame.columns:
                continue
            numbers[name], bad = number_column(frame[name])
            for i in np.flatnonzero(bad):
                reasons[int(i)].append(f"{name}: not a number")
        return numbers, reasons

    def _customer_answers(self, features: pd.DataFrame) -> list[dict[str, list]]:
        if not self.customer_models:
            return []
        joint = self.joint.probabilities(features) if self.joint else {}
        answers = []
        for served in self.customer_models:
            model = served.model
            probabilities = (
                {target: joint[target] for target in model.pipelines}
                if joint
                else model.probabilities(features)
            )
            answers.append(model.answer_columns(probabilities))
        return answers

    def _text_answers(self, features: pd.DataFrame) -> list[dict[str, list]]:
        if not self.text_models:
            return []
        texts = TextBatch(features[self.text_column].astype(str).tolist())
        return [_text_answer(served.model, texts) for served in self.text_models]

    def _problems(
        self, frame: pd.DataFrame, where: pd.DataFrame, reasons: dict[int, list[str]]
    ) -> pd.DataFrame:
        bad = sorted(reasons)
        problems = where.iloc[bad].reset_index(drop=True)
        problems["id"] = (
            _id_text(frame[self.id_column].iloc[bad]) if self.id_column else [None] * len(bad)
        )
        problems["reason"] = ["; ".join(reasons[i]) for i in bad]
        return problems


def required_columns(
    schemas: Sequence[Schema | None], *, id_column: str | None, text_column: str | None
) -> list[str]:
    """The id and text columns when there are any, and every feature the customer models
    read, blank or not: a column missing from a whole table is a mistake (a renamed column),
    not a table of blanks."""
    names = [name for name in (id_column, text_column) if name]
    names += [column.name for schema in schemas if schema for column in schema.inputs]
    return list(dict.fromkeys(names))


def check_columns(columns: Sequence[str], required: Sequence[str]) -> None:
    """A table without a column some model needs cannot be scored at all: say which."""
    missing = [name for name in required if name not in columns]
    if missing:
        raise DataError(
            f"the table has no column {', '.join(map(repr, missing))}; "
            f"it has: {', '.join(map(str, columns))}"
        )


@dataclass(frozen=True)
class Scored:
    answers: pd.DataFrame
    problems: pd.DataFrame


def _id_text(ids: pd.Series) -> pd.Series:
    """Ids as text, whatever type the table gave them (plain str objects, as Spark gives)."""
    return ids.astype("string").astype(object).reset_index(drop=True)


def _blank(values: pd.Series) -> np.ndarray:
    return values.astype("string").fillna("").str.strip().eq("").to_numpy(dtype=bool)


def _text_answer(model: TextClassifierModel, texts: TextBatch) -> dict[str, list]:
    """The HTTP API's fields for one text model: the demand classifier's category, confidence
    and whether a person should review it; the spam filter's verdict and probability."""
    answers = model.answer(texts)
    if SPAM in answers.classes:
        return {"spam": answers.says(SPAM), "spam_probability": answers.probability(SPAM)}
    return {
        "category": answers.labels,
        "confidence": answers.confidence,
        "needs_review": answers.needs_review,
    }
