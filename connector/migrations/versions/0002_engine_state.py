"""Engine state: queue tier per line, removed lines, variant stock flag, domain events.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "domain_events",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("dispatched_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("shop_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.ForeignKeyConstraint(
            ["shop_id"],
            ["shops.id"],
            name=op.f("fk_domain_events_shop_id_shops"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_domain_events")),
    )
    with op.batch_alter_table("domain_events", schema=None) as batch_op:
        batch_op.create_index("ix_domain_events_pending", ["dispatched_at", "id"], unique=False)
        batch_op.create_index(batch_op.f("ix_domain_events_shop_id"), ["shop_id"], unique=False)

    with op.batch_alter_table("backorders", schema=None) as batch_op:
        batch_op.drop_column("version")

    with op.batch_alter_table("order_lines", schema=None) as batch_op:
        batch_op.add_column(sa.Column("priority", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("variant_external_id", sa.String(length=64), nullable=True))

    with op.batch_alter_table("shops", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("expedite_keywords", sa.String(length=255), nullable=False, server_default="")
        )

    with op.batch_alter_table("variants", schema=None) as batch_op:
        batch_op.add_column(sa.Column("in_stock", sa.Boolean(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("variants", schema=None) as batch_op:
        batch_op.drop_column("in_stock")

    with op.batch_alter_table("shops", schema=None) as batch_op:
        batch_op.drop_column("expedite_keywords")

    with op.batch_alter_table("order_lines", schema=None) as batch_op:
        batch_op.drop_column("variant_external_id")
        batch_op.drop_column("removed_at")
        batch_op.drop_column("priority")

    with op.batch_alter_table("backorders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("version", sa.INTEGER(), nullable=False, server_default="1"))

    with op.batch_alter_table("domain_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_domain_events_shop_id"))
        batch_op.drop_index("ix_domain_events_pending")

    op.drop_table("domain_events")
