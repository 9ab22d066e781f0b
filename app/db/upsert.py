"""``INSERT ... ON CONFLICT DO UPDATE`` (or ``DO NOTHING``) for the databases the store runs on."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.dml import Insert


def upsert_statement(table: Table, dialect_name: str, *, update_columns: Sequence[str]) -> Insert:
    """Insert rows into ``table``; a row whose primary key exists updates ``update_columns``.

    Both SQLite (3.24+) and PostgreSQL do this in one statement, so concurrent writers of the
    same key cannot collide between a read and a write.
    """
    dialects = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}
    if dialect_name not in dialects:
        raise NotImplementedError(f"no upsert for the {dialect_name} database")
    statement = dialects[dialect_name](table)
    return statement.on_conflict_do_update(
        index_elements=list(table.primary_key.columns),
        set_={name: statement.excluded[name] for name in update_columns},
    )


def insert_new_statement(table: Table, dialect_name: str, *, key: Sequence[str]) -> Insert:
    """Insert rows into ``table``, skipping any whose ``key`` (a unique constraint's columns)
    is already stored: writing the same rows twice stores them once."""
    dialects = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}
    if dialect_name not in dialects:
        raise NotImplementedError(f"no insert-if-new for the {dialect_name} database")
    return dialects[dialect_name](table).on_conflict_do_nothing(index_elements=list(key))
