"""The app database: tables, engines and sessions, and the migrations that build it."""

from app.db.base import Base
from app.db.models import Customer, CustomerScore
from app.db.session import create_engine_for, create_session_factory, session_scope

__all__ = [
    "Base",
    "Customer",
    "CustomerScore",
    "create_engine_for",
    "create_session_factory",
    "session_scope",
]
