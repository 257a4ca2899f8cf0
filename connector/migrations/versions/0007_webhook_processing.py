"""Webhook processing: retry times on the inbox, customers' data-request exports and erasure
marks, when a resource's last full sync walk completed, and the index erasing a shop needs.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("webhook_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(
            "ix_webhook_events_resource", ["shop_id", "resource_id"], unique=False
        )
    with op.batch_alter_table("sync_cursors", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_full_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("redacted_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        # Erasing a shop deletes backorders; each cascade looks up its notifications by this.
        batch_op.create_index(
            batch_op.f("ix_notifications_backorder_id"), ["backorder_id"], unique=False
        )
    op.create_table(
        "data_requests",
        sa.Column("customer_external_id", sa.String(length=64), nullable=True),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("export", sa.JSON(), nullable=False),
        sa.Column("shop_id", ID, nullable=False),
        sa.Column("id", ID, nullable=False),
        sa.ForeignKeyConstraint(
            ["shop_id"],
            ["shops.id"],
            name=op.f("fk_data_requests_shop_id_shops"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_data_requests")),
    )
    with op.batch_alter_table("data_requests", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_data_requests_shop_id"), ["shop_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("data_requests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_data_requests_shop_id"))
    op.drop_table("data_requests")
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notifications_backorder_id"))
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_column("redacted_at")
    with op.batch_alter_table("sync_cursors", schema=None) as batch_op:
        batch_op.drop_column("last_full_at")
    with op.batch_alter_table("webhook_events", schema=None) as batch_op:
        batch_op.drop_index("ix_webhook_events_resource")
        batch_op.drop_column("next_attempt_at")
