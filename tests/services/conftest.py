"""The database fixtures of ``tests.db.databases`` for the tests in this folder."""

from tests.db.databases import (  # noqa: F401
    database_url,
    migrated_url,
    module_database_url,
    module_engine,
    session,
)
