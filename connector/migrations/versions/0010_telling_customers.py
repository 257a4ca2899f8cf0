"""Telling customers: the shop's mail settings, merchants' own templates, customers' changes from
the status page, and the tasks left to the merchant.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# Frozen here, as every migration does: later model changes must not rewrite history.
Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _owned() -> list[sa.Column]:
    return [
        sa.Column("id", Id, primary_key=True),
        sa.Column("shop_id", Id, sa.ForeignKey("shops.id", ondelete="CASCADE"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    ]


def upgrade() -> None:
    with op.batch_alter_table("shops", schema=None) as batch_op:
        batch_op.add_column(sa.Column("mail_kinds", sa.JSON(), nullable=False, server_default="{}"))
        batch_op.add_column(sa.Column("support_email", sa.String(length=320), nullable=True))
        batch_op.add_column(
            sa.Column("brand_color", sa.String(length=16), nullable=False, server_default="#1f4e79")
        )
        batch_op.add_column(sa.Column("logo_url", sa.String(length=500), nullable=True))
        batch_op.add_column(
            sa.Column(
                "digest_recipients", sa.String(length=1000), nullable=False, server_default=""
            )
        )
        batch_op.add_column(
            sa.Column("digest_wait_days", sa.Integer(), nullable=False, server_default="7")
        )

    op.create_table(
        "mail_templates",
        *_owned(),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("locale", sa.String(length=16), nullable=False),
        sa.Column("part", sa.String(length=8), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.UniqueConstraint("shop_id", "kind", "locale", "part"),
    )
    op.create_index("ix_mail_templates_shop_id", "mail_templates", ["shop_id"])

    op.create_table(
        "order_changes",
        *_owned(),
        sa.Column("order_id", Id, sa.ForeignKey("orders.id", ondelete="CASCADE"), nullable=False),
        sa.Column(
            "backorder_id",
            Id,
            sa.ForeignKey("backorders.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("variant_id", Id, sa.ForeignKey("variants.id", ondelete="SET NULL")),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("dedupe_key", sa.String(length=255), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("shop_id", "dedupe_key"),
    )
    op.create_index("ix_order_changes_shop_id", "order_changes", ["shop_id"])
    op.create_index("ix_order_changes_backorder_id", "order_changes", ["backorder_id"])

    op.create_table(
        "merchant_tasks",
        *_owned(),
        sa.Column("order_id", Id, sa.ForeignKey("orders.id", ondelete="CASCADE")),
        sa.Column("backorder_id", Id, sa.ForeignKey("backorders.id", ondelete="SET NULL")),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("dedupe_key", sa.String(length=255), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("shop_id", "dedupe_key"),
    )
    op.create_index("ix_merchant_tasks_shop_id", "merchant_tasks", ["shop_id"])
    op.create_index("ix_merchant_tasks_order_id", "merchant_tasks", ["order_id"])


def downgrade() -> None:
    op.drop_table("merchant_tasks")
    op.drop_table("order_changes")
    op.drop_table("mail_templates")
    with op.batch_alter_table("shops", schema=None) as batch_op:
        batch_op.drop_column("digest_wait_days")
        batch_op.drop_column("digest_recipients")
        batch_op.drop_column("logo_url")
        batch_op.drop_column("brand_color")
        batch_op.drop_column("support_email")
        batch_op.drop_column("mail_kinds")
