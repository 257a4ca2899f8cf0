"""Selling on backorder: the shop's opt-in, promise window and cap; per variant the policy the
app wrote, when, why, and whether the merchant has since overridden it by hand.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("shops", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("sell_on_backorder", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(
            sa.Column("max_promise_days", sa.Integer(), nullable=False, server_default="30")
        )
        batch_op.add_column(sa.Column("backorder_cap", sa.Integer(), nullable=True))
    with op.batch_alter_table("variants", schema=None) as batch_op:
        batch_op.add_column(sa.Column("policy_by_app", sa.String(length=16), nullable=True))
        batch_op.add_column(
            sa.Column("policy_written_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("policy_override", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("selling_reason", sa.String(length=255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("variants", schema=None) as batch_op:
        batch_op.drop_column("selling_reason")
        batch_op.drop_column("policy_override")
        batch_op.drop_column("policy_written_at")
        batch_op.drop_column("policy_by_app")
    with op.batch_alter_table("shops", schema=None) as batch_op:
        batch_op.drop_column("backorder_cap")
        batch_op.drop_column("max_promise_days")
        batch_op.drop_column("sell_on_backorder")
