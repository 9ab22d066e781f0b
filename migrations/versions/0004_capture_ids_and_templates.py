"""Captured requests: a unique capture id (a batch written twice stores each row once), the
route template as endpoint with the path's parameters apart, and a mark on truncated bodies.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the types in app.db.base: a migration must not change when the models do.
JSON_DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

PROFILE = "/v1/customers/{customer_id}/profile"
# The id inside '/v1/customers/<id>/profile': after 14 characters, before the last 8.
PROFILE_ID = "substr(endpoint, 15, length(endpoint) - 22)"
JSON_OBJECT = {"postgresql": "jsonb_build_object", "sqlite": "json_object"}
JSON_FIELD = {
    "postgresql": "(path_params ->> 'customer_id')",
    "sqlite": "json_extract(path_params, '$.customer_id')",
}


def upgrade() -> None:
    with op.batch_alter_table("captured_requests") as table:
        table.add_column(sa.Column("capture_id", sa.String(32), nullable=True))
        table.add_column(sa.Column("path_params", JSON_DOCUMENT, nullable=True))
        table.add_column(
            sa.Column("body_truncated", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        table.create_unique_constraint(op.f("uq_captured_requests_capture_id"), ["capture_id"])
    # Profile rows captured before: the path, customer id inside, becomes the template.
    json_object = JSON_OBJECT[op.get_context().dialect.name]
    op.execute(
        f"UPDATE captured_requests SET path_params = {json_object}('customer_id', {PROFILE_ID}), "
        f"endpoint = '{PROFILE}' "
        f"WHERE endpoint LIKE '/v1/customers/%/profile' AND endpoint <> '{PROFILE}'"
    )


def downgrade() -> None:
    customer_id = JSON_FIELD[op.get_context().dialect.name]
    op.execute(
        f"UPDATE captured_requests SET endpoint = '/v1/customers/' || {customer_id} || '/profile' "
        f"WHERE endpoint = '{PROFILE}' AND {customer_id} IS NOT NULL"
    )
    with op.batch_alter_table("captured_requests") as table:
        table.drop_constraint(op.f("uq_captured_requests_capture_id"), type_="unique")
        table.drop_column("body_truncated")
        table.drop_column("path_params")
        table.drop_column("capture_id")
