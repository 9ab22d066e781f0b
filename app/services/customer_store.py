"""The customer store: upsert and read customers and their latest model outputs, bulk import."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.orm import Session, sessionmaker

from app.core.errors import CustomerNotFoundError
from app.db.base import utc_now
from app.db.models import Customer, CustomerScore
from app.db.session import create_engine_for
from app.db.upsert import upsert_statement
from app.services.customer_files import CustomerFile, open_customer_file
from app.services.customer_records import RowProblem, check_chunk
from training.common.labels import DataError

DEFAULT_CHUNK_ROWS = 5_000


def upsert_customer(session: Session, *, customer_id: str, record: Mapping[str, Any]) -> Customer:
    """Store ``record`` as the customer's record, creating the customer if it is new."""
    _upsert_customers(session, [{"customer_id": customer_id, "record": dict(record)}])
    statement = select(Customer).where(Customer.customer_id == customer_id)
    return session.scalars(statement.execution_options(populate_existing=True)).one()


def get_customer(session: Session, customer_id: str) -> Customer | None:
    """The customer, or None if the store does not hold it."""
    return session.get(Customer, customer_id)


def get_customer_or_raise(session: Session, customer_id: str) -> Customer:
    """The customer; ``CustomerNotFoundError`` (404) if the store does not hold it."""
    customer = get_customer(session, customer_id)
    if customer is None:
        # Not the id: it may be personal data (a phone number), and the caller knows it.
        raise CustomerNotFoundError("the store holds no customer with this id")
    return customer


def get_customer_scores(session: Session, customer_id: str) -> list[CustomerScore]:
    """The customer's latest output of every model, by model name (recorded by the capture
    worker: ``app.capture.scores``)."""
    statement = (
        select(CustomerScore)
        .where(CustomerScore.customer_id == customer_id)
        .order_by(CustomerScore.model_name)
    )
    return list(session.scalars(statement))


@dataclass
class ImportSummary:
    """What an import did: rows inserted, updated and skipped, and why each skipped row was."""

    total_rows: int
    row_word: str = "line"
    inserted: int = 0
    updated: int = 0
    problems: list[RowProblem] = field(default_factory=list)

    @property
    def skipped(self) -> int:
        return len(self.problems)

    @property
    def done(self) -> int:
        return self.inserted + self.updated + self.skipped


ImportProgress = Callable[[ImportSummary], None]


def import_customers(
    sessions: sessionmaker[Session],
    *,
    path: Path,
    id_column: str = "customer_id",
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    progress: ImportProgress | None = None,
) -> ImportSummary:
    """Upsert every good row of a CSV or Parquet file, one transaction per chunk.

    Importing the same file twice stores the same customers: the second time, all updates.
    """
    source = open_customer_file(path)
    if id_column not in source.columns:
        raise DataError(f"{path.name} has no column {id_column!r} (use --id-column)")
    summary = ImportSummary(total_rows=source.rows, row_word=source.row_word)
    try:
        _import_chunks(sessions, source, summary, id_column, chunk_rows, progress)
    except DataError as error:
        raise DataError(
            f"{error}\nstopped after {summary.done:,} rows: {summary.inserted:,} inserted, "
            f"{summary.updated:,} updated, {summary.skipped:,} skipped (committed)"
        ) from None
    return summary


def _import_chunks(
    sessions: sessionmaker[Session],
    source: CustomerFile,
    summary: ImportSummary,
    id_column: str,
    chunk_rows: int,
    progress: ImportProgress | None,
) -> None:
    for chunk in source.chunks(chunk_rows):
        checked = check_chunk(
            chunk.frame, id_column=id_column, lines=chunk.lines, row_word=source.row_word
        )
        with sessions.begin() as session:
            inserted = _store_chunk(session, checked.customer_ids, checked.records)
        summary.inserted += inserted
        summary.updated += len(checked.customer_ids) - inserted
        summary.problems.extend(sorted([*chunk.problems, *checked.problems], key=_line))
        if progress is not None:
            progress(summary)


def _line(problem: RowProblem) -> int:
    return problem.line


def _store_chunk(session: Session, customer_ids: list[str], records: list[dict]) -> int:
    """Upsert the chunk's customers; the number that were new."""
    if not customer_ids:
        return 0
    existing = session.scalars(
        select(Customer.customer_id).where(Customer.customer_id.in_(customer_ids))
    ).all()
    rows = [
        {"customer_id": customer_id, "record": record}
        for customer_id, record in zip(customer_ids, records)
    ]
    _upsert_customers(session, rows)
    return len(customer_ids) - len(existing)


def _upsert_customers(session: Session, rows: Iterable[dict[str, Any]]) -> None:
    now = utc_now()
    rows = [{"created_at": now, "updated_at": now} | row for row in rows]
    table, dialect = Customer.__table__, _dialect(session)
    statement = upsert_statement(table, dialect, update_columns=("record", "updated_at"))
    if dialect == "sqlite":
        # RETURNING makes SQLAlchemy pack many rows into each statement ("insertmanyvalues"):
        # 30% faster on SQLite. psycopg's pipelined executemany is faster still without it.
        session.execute(statement.returning(table.c.customer_id), rows).all()
    else:
        session.execute(statement, rows)


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def customer_id_bounds(database_url: str, *, page: int) -> Iterator[tuple[str, str, int]]:
    """(first id, last id, count) of each run of ``page`` customers in id order: every id is
    read once, only the bounds are kept."""
    with _connection(database_url) as connection:
        ids = connection.execution_options(yield_per=page).scalars(
            select(Customer.customer_id).order_by(Customer.customer_id)
        )
        for chunk in ids.partitions(page):
            yield chunk[0], chunk[-1], len(chunk)


def customer_records_between(
    database_url: str, first_id: str, last_id: str, *, page: int
) -> Iterator[tuple[list[str], list[dict[str, Any]]]]:
    """The ids and records of the customers from ``first_id`` to ``last_id``, in id order,
    ``page`` at a time."""
    statement = (
        select(Customer.customer_id, Customer.record)
        .where(Customer.customer_id.between(first_id, last_id))
        .order_by(Customer.customer_id)
    )
    with _connection(database_url) as connection:
        rows = connection.execution_options(yield_per=page).execute(statement)
        for chunk in rows.partitions(page):
            yield [row.customer_id for row in chunk], [row.record for row in chunk]


@contextmanager
def _connection(database_url: str) -> Iterator[Connection]:
    engine = create_engine_for(database_url)
    try:
        with engine.connect() as connection:
            yield connection
    finally:
        engine.dispose()
