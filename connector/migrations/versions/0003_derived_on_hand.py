"""Derived on-hand: NULL where the store reports only what is left to sell (WooCommerce).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("inventory_levels", schema=None) as batch_op:
        batch_op.alter_column("on_hand", existing_type=sa.INTEGER(), nullable=True)


def downgrade() -> None:
    op.execute("UPDATE inventory_levels SET on_hand = available WHERE on_hand IS NULL")
    with op.batch_alter_table("inventory_levels", schema=None) as batch_op:
        batch_op.alter_column("on_hand", existing_type=sa.INTEGER(), nullable=False)
