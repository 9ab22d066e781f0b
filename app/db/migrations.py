"""Apply and check the app database's Alembic migrations (``migrations/`` beside ``app/``).

The service calls ``ensure_up_to_date`` before anything else: it refuses to start on a
database that is empty or behind, and says what to run.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from app.db.session import create_engine_for, create_session_factory, redacted

UPGRADE_COMMAND = "insight db upgrade"


class DatabaseRevisionError(RuntimeError):
    """The app database's schema is not the one this code was written for."""


class DatabaseBehindError(DatabaseRevisionError):
    """The app database is empty or has migrations still to apply."""


class UnknownRevisionError(DatabaseRevisionError):
    """The app database carries a revision this code does not know (newer code migrated it)."""


def migrations_dir() -> Path:
    """The ``migrations/`` folder: beside the source tree, else in the working directory."""
    for root in (Path(__file__).resolve().parents[2], Path.cwd()):
        if (root / "migrations" / "env.py").is_file():
            return root / "migrations"
    raise FileNotFoundError("no migrations/ folder beside the app package or in the working dir")


def alembic_config(url: str | None = None) -> Config:
    """Alembic's configuration for ``url``, without reading any ini file."""
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    config.attributes["quiet_logging"] = True
    if url is not None:
        config.attributes["database_url"] = url
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Migrate the database at ``url`` up to ``revision``."""
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str) -> None:
    """Migrate the database at ``url`` down to ``revision`` (``base`` drops every table)."""
    command.downgrade(alembic_config(url), revision)


def head_revision() -> str:
    """The newest revision this code knows."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError("the migrations folder holds no revision")
    return head


def current_revision(url: str) -> str | None:
    """The revision the database at ``url`` is at; None when it was never migrated."""
    if _missing_sqlite_file(url):
        return None
    engine = create_engine_for(url)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


def ensure_up_to_date(url: str) -> None:
    """Raise ``DatabaseBehindError`` unless the database at ``url`` is at the head revision."""
    current, head = current_revision(url), head_revision()
    if current == head:
        return
    where = redacted(url)
    if current is None:
        raise DatabaseBehindError(
            f"the app database at {where} has no tables yet: run `{UPGRADE_COMMAND}`"
        )
    script = ScriptDirectory.from_config(alembic_config())
    if current not in {rev.revision for rev in script.walk_revisions()}:
        raise UnknownRevisionError(
            f"the app database at {where} is at revision {current}, which this code does not "
            f"know (its newest is {head}): run a version of the service that knows it"
        )
    raise DatabaseBehindError(
        f"the app database at {where} is at revision {current}, this code needs {head}: "
        f"run `{UPGRADE_COMMAND}`"
    )


@contextmanager
def migrated_sessions(url: str) -> Iterator[sessionmaker[Session]]:
    """Sessions on the app database at ``url``, which must be at the head revision."""
    ensure_up_to_date(url)
    engine = create_engine_for(url)
    try:
        yield create_session_factory(engine)
    finally:
        engine.dispose()


def _missing_sqlite_file(url: str) -> bool:
    """True for a SQLite file that does not exist: connecting would create it, empty."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return False
    return not Path(parsed.database).exists()
