"""The database fixtures of ``tests.db.databases`` for the tests in this folder."""

from tests.db.databases import database_url, migrated_url  # noqa: F401
