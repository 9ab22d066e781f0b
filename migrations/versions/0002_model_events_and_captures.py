"""The model audit trail and captured requests.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the types in app.db.base: a migration must not change when the models do.
JSON_DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "model_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("model_name", sa.String(100), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("alias", sa.String(64), nullable=False),
        sa.Column("from_version", sa.String(32), nullable=True),
        sa.Column("to_version", sa.String(32), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("forced", sa.Boolean(), nullable=False),
        sa.Column("gates", JSON_DOCUMENT, nullable=False),
        sa.Column("at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_model_events")),
    )
    op.create_index(op.f("ix_model_events_model_name"), "model_events", ["model_name"])
    op.create_index(op.f("ix_model_events_at"), "model_events", ["at"])
    op.create_table(
        "captured_requests",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("request_id", sa.String(128), nullable=False),
        sa.Column("endpoint", sa.String(200), nullable=False),
        sa.Column("body", JSON_DOCUMENT, nullable=False),
        sa.Column("answer", JSON_DOCUMENT, nullable=True),
        sa.Column("model_versions", JSON_DOCUMENT, nullable=False),
        sa.Column("latency_ms", sa.Float(), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("captured_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_captured_requests")),
    )
    for column in ("request_id", "endpoint", "captured_at"):
        op.create_index(op.f(f"ix_captured_requests_{column}"), "captured_requests", [column])


def downgrade() -> None:
    for column in ("request_id", "endpoint", "captured_at"):
        op.drop_index(op.f(f"ix_captured_requests_{column}"), table_name="captured_requests")
    op.drop_table("captured_requests")
    op.drop_index(op.f("ix_model_events_at"), table_name="model_events")
    op.drop_index(op.f("ix_model_events_model_name"), table_name="model_events")
    op.drop_table("model_events")
