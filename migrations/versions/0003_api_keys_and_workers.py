"""API keys, the service's worker processes, the caller of a captured request, and admin
refreshes in the model audit trail.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the types in app.db.base: a migration must not change when the models do.
JSON_DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TIMESTAMP = sa.DateTime(timezone=True)
ACTIVE = sa.text("revoked_at IS NULL")


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("key_id", sa.String(16), nullable=False),
        sa.Column("secret_hash", sa.String(64), nullable=False),
        sa.Column("scopes", JSON_DOCUMENT, nullable=False),
        sa.Column("rate_limit", sa.Float(), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("expires_at", TIMESTAMP, nullable=True),
        sa.Column("revoked_at", TIMESTAMP, nullable=True),
        sa.Column("last_used_at", TIMESTAMP, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("key_id", name=op.f("uq_api_keys_key_id")),
    )
    op.create_index(
        "uq_api_keys_active_name",
        "api_keys",
        ["name"],
        unique=True,
        sqlite_where=ACTIVE,
        postgresql_where=ACTIVE,
    )
    op.create_table(
        "service_workers",
        sa.Column("worker_id", sa.String(100), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("started_at", TIMESTAMP, nullable=False),
        sa.Column("seen_at", TIMESTAMP, nullable=False),
        sa.Column("refresh_done", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("worker_id", name=op.f("pk_service_workers")),
    )
    op.create_index(op.f("ix_service_workers_seen_at"), "service_workers", ["seen_at"])
    with op.batch_alter_table("captured_requests") as table:
        table.add_column(sa.Column("client", sa.String(100), nullable=True))
        table.create_index(op.f("ix_captured_requests_client"), ["client"])
    with op.batch_alter_table("model_events") as table:
        table.alter_column("to_version", existing_type=sa.String(32), nullable=True)


def downgrade() -> None:
    op.execute("DELETE FROM model_events WHERE to_version IS NULL")
    with op.batch_alter_table("model_events") as table:
        table.alter_column("to_version", existing_type=sa.String(32), nullable=False)
    with op.batch_alter_table("captured_requests") as table:
        table.drop_index(op.f("ix_captured_requests_client"))
        table.drop_column("client")
    op.drop_index(op.f("ix_service_workers_seen_at"), table_name="service_workers")
    op.drop_table("service_workers")
    op.drop_index("uq_api_keys_active_name", table_name="api_keys")
    op.drop_table("api_keys")
