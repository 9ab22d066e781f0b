"""Fixtures for the registry tests: the purpose-made churn versions and the app database."""

from tests.db.databases import database_url, migrated_url  # noqa: F401
from tests.model_registry.versions import churn, churn_versions, sessions  # noqa: F401
