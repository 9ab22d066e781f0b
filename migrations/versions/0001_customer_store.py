"""The customer store: customers and their latest model outputs.

Revision ID: 0001
Revises:
Create Date: 2025-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the types in app.db.base: a migration must not change when the models do.
JSON_DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "customers",
        sa.Column("customer_id", sa.String(128), nullable=False),
        sa.Column("record", JSON_DOCUMENT, nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("customer_id", name=op.f("pk_customers")),
    )
    op.create_table(
        "customer_scores",
        sa.Column("customer_id", sa.String(128), nullable=False),
        sa.Column("model_name", sa.String(100), nullable=False),
        sa.Column("model_version", sa.String(32), nullable=False),
        sa.Column("model_alias", sa.String(64), nullable=True),
        sa.Column("output", JSON_DOCUMENT, nullable=False),
        sa.Column("scored_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.customer_id"],
            name=op.f("fk_customer_scores_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("customer_id", "model_name", name=op.f("pk_customer_scores")),
    )
    op.create_index(
        op.f("ix_customer_scores_model_name"), "customer_scores", ["model_name"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_customer_scores_model_name"), table_name="customer_scores")
    op.drop_table("customer_scores")
    op.drop_table("customers")
