"""Feedback from the CRM: text corrections (category, spam) and customer outcomes.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the types in app.db.base: a migration must not change when the models do.
JSON_DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "text_corrections",
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("request_id", sa.String(128), nullable=True),
        sa.Column("item_index", sa.Integer(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("category", sa.String(100), nullable=True),
        sa.Column("spam", sa.Boolean(), nullable=True),
        sa.Column("answered", JSON_DOCUMENT, nullable=True),
        sa.Column("corrected_by", sa.String(100), nullable=False),
        sa.Column("client", sa.String(100), nullable=True),
        sa.Column("received_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_text_corrections")),
    )
    op.create_index(op.f("ix_text_corrections_request_id"), "text_corrections", ["request_id"])
    op.create_index(op.f("ix_text_corrections_received_at"), "text_corrections", ["received_at"])
    op.create_table(
        "customer_outcomes",
        sa.Column("customer_id", sa.String(128), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("churned", sa.Boolean(), nullable=True),
        sa.Column("occupation", sa.String(100), nullable=True),
        sa.Column("channels", JSON_DOCUMENT, nullable=True),
        sa.Column("content", JSON_DOCUMENT, nullable=True),
        sa.Column("reported_by", sa.String(100), nullable=False),
        sa.Column("client", sa.String(100), nullable=True),
        sa.Column("received_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("customer_id", "as_of", name=op.f("pk_customer_outcomes")),
    )
    op.create_index(op.f("ix_customer_outcomes_received_at"), "customer_outcomes", ["received_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_customer_outcomes_received_at"), table_name="customer_outcomes")
    op.drop_table("customer_outcomes")
    op.drop_index(op.f("ix_text_corrections_received_at"), table_name="text_corrections")
    op.drop_index(op.f("ix_text_corrections_request_id"), table_name="text_corrections")
    op.drop_table("text_corrections")
