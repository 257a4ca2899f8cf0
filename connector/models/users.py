"""Dashboard users of a shop: support agents and owners who sign in with a password."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from connector.models.base import Base, Id, IdMixin, Timestamps

ROLES = ("owner", "agent")  # an agent reads; an owner also acts and changes settings


class User(IdMixin, Timestamps, Base):
    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("email"),)

    shop_id: Mapped[int] = mapped_column(Id, ForeignKey("shops.id", ondelete="CASCADE"), index=True)
    email: Mapped[str] = mapped_column(String(320))  # kept lower-case
    # werkzeug's salted scrypt hash: the password itself is never stored.
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16), default="agent")
    last_login_at: Mapped[datetime | None]
