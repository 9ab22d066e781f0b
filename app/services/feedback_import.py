"""Feedback from the warehouse: a CSV or Parquet file of customer outcomes or text corrections,
one item per row, checked as ``POST /v1/feedback`` checks its items. A bad row is listed with
its line and reason and skipped; the good ones are stored, a transaction per chunk, each
replacing the feedback its key held (importing a file twice stores the same feedback).

The columns are the items' fields. ``kind`` may be a column; without one, a file with a
``customer_id`` column holds outcomes, any other corrections. ``channels`` and ``content`` list
slugs separated by ``|``, ``,``, ``;`` or ``、``; ``churned`` and ``spam`` take the usual yes/no
spellings (1/0, true/false, 是/否).
"""

from __future__ import annotations

import math
import re
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError
from sqlalchemy.orm import Session, sessionmaker

from app.services.customer_files import CustomerChunk, open_customer_file
from app.services.customer_records import RowProblem
from app.services.customer_store import ImportProgress, ImportSummary
from app.services.feedback import (
    FeedbackItem,
    FeedbackVocabulary,
    ItemProblem,
    check_items,
    store_items,
)
from training.common.labels import NEGATIVE_SPELLINGS, POSITIVE_SPELLINGS

DEFAULT_CHUNK_ROWS = 2_000
LIST_SEPARATORS = re.compile(r"\s*[|,;、，；]\s*")
# The models whose answers name what a column may hold: its values are checked against them.
CHECKED_BY = {
    "category": "demand-classifier",
    "occupation": "occupation",
    "channels": "channel-preference",
    "content": "content-preference",
}
_ITEM = TypeAdapter(FeedbackItem)
_WHO = {"text": "corrected_by", "outcome": "reported_by"}


def models_to_check(path: Path) -> list[str]:
    """The models a file's feedback must be checked against, by its columns."""
    columns = open_customer_file(path).columns
    return [model for column, model in CHECKED_BY.items() if column in columns]


def import_feedback(
    sessions: sessionmaker[Session],
    *,
    path: Path,
    vocabulary: FeedbackVocabulary,
    max_text_chars: int,
    given_by: str | None = None,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    progress: ImportProgress | None = None,
) -> ImportSummary:
    """Store every good row of the file; ``given_by`` names who gave the feedback of rows that
    do not say (``corrected_by`` or ``reported_by``)."""
    source = open_customer_file(path)
    kind = None if "kind" in source.columns else _kind_of(source.columns)
    summary = ImportSummary(total_rows=source.rows, row_word=source.row_word)
    for chunk in source.chunks(chunk_rows):
        items, lines, problems = _items(chunk, kind, given_by)
        checked = check_items(items, vocabulary, max_text_chars=max_text_chars)
        items, lines, problems_too = _without(items, lines, checked)
        with sessions.begin() as session:
            stored, unknown = store_items(session, items, client=None)
            if unknown:  # left out, the rest stored in the same transaction
                items, lines, problems_more = _without(items, lines, unknown)
                stored, _ = store_items(session, items, client=None)
                problems_too += problems_more
        summary.inserted += stored.created
        summary.updated += stored.replaced
        summary.problems.extend(sorted([*problems, *problems_too], key=lambda p: p.line))
        if progress is not None:
            progress(summary)
    return summary


def _kind_of(columns: tuple[str, ...]) -> str:
    return "outcome" if "customer_id" in columns else "text"


def _items(
    chunk: CustomerChunk, kind: str | None, given_by: str | None
) -> tuple[list[FeedbackItem], list[int], list[RowProblem]]:
    items, lines, problems = [], [], list(chunk.problems)
    for line, row in zip(chunk.lines, chunk.frame.to_dict(orient="records")):
        fields = _fields(row, kind, given_by)
        try:
            items.append(_ITEM.validate_python(fields))
            lines.append(line)
        except ValidationError as error:
            problems.append(RowProblem(line, _reasons(error, fields.get("kind"))))
    return items, lines, problems


def _fields(row: dict[str, Any], kind: str | None, given_by: str | None) -> dict[str, Any]:
    fields = {name: _plain(value) for name, value in row.items() if not _blank(value)}
    if kind is not None:
        fields["kind"] = kind
    for name in ("channels", "content"):
        if isinstance(fields.get(name), str):
            fields[name] = [value for value in LIST_SEPARATORS.split(fields[name]) if value]
    for name in ("churned", "spam"):
        if isinstance(fields.get(name), str):
            fields[name] = _yes_no(fields[name])
    who = _WHO.get(fields.get("kind", ""))
    if who and given_by and who not in fields:
        fields[who] = given_by
    return fields


def _blank(value: Any) -> bool:
    return value is None or value == "" or (isinstance(value, float) and math.isnan(value))


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):  # a Parquet date column read as a timestamp
        return value.date()
    return value.item() if hasattr(value, "item") else value


def _yes_no(spelled: str) -> bool | str:
    word = spelled.strip().lower()
    if word in POSITIVE_SPELLINGS:
        return True
    if word in NEGATIVE_SPELLINGS:
        return False
    return spelled  # refused by the check, which names the field


def _reasons(error: ValidationError, kind: Any) -> str:
    reasons = []
    for item in error.errors():
        location = [str(part) for part in item["loc"]]
        if location and location[0] == kind:  # the tag of the kind it was checked as
            location = location[1:]
        reasons.append(f"{'.'.join(location) or 'kind'}: {item['msg']}")
    return "; ".join(reasons)


def _without(
    items: list[FeedbackItem], lines: list[int], problems: list[ItemProblem]
) -> tuple[list[FeedbackItem], list[int], list[RowProblem]]:
    """The items no problem is about, their lines, and the problems by line."""
    by_position: dict[int, list[str]] = {}
    for problem in problems:
        by_position.setdefault(problem.position, []).append(f"{problem.field}: {problem.message}")
    kept = [i for i in range(len(items)) if i not in by_position]
    rows = [RowProblem(lines[i], "; ".join(reasons)) for i, reasons in by_position.items()]
    return [items[i] for i in kept], [lines[i] for i in kept], rows
