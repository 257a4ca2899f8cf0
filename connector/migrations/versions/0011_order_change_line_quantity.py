"""Order changes remember the line's quantity when the customer asked.

The store edit reduces the line to `line_quantity - quantity`. A job retried after a crash between
the store's answer and our commit re-reads the order and compares the store's line with that
target, so it never takes the same units off twice (the line we hold may already show the edit,
from the platform's own webhook).

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("order_changes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("line_quantity", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("order_changes", schema=None) as batch_op:
        batch_op.drop_column("line_quantity")
