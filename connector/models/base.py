"""Declarative base, the UTC datetime type and the mixins every table shares."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import BigInteger, Date, DateTime, ForeignKey, Integer, MetaData, TypeDecorator
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column

# Stable constraint names so Alembic's autogenerate and both databases agree.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# BIGINT on PostgreSQL; INTEGER on SQLite, where only INTEGER PRIMARY KEY auto-increments.
Id = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """Always UTC in, always aware UTC out, whatever the database keeps."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; pass an aware UTC datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    def result_processor(self, dialect: Any, coltype: Any) -> Any:
        """On SQLite, parse the stored text with the C `fromisoformat`, not a regex.

        The engine reads ten thousand queue rows at a time; SQLAlchemy's generic SQLite
        parser is the largest single cost of that read. The stored format is unchanged.
        """
        if dialect.name != "sqlite":
            return super().result_processor(dialect, coltype)

        def process(value: str | None) -> datetime | None:
            if value is None:
                return None
            return datetime.fromisoformat(value).replace(tzinfo=UTC)

        return process


class FastDate(TypeDecorator[date]):
    """A calendar date (ETAs, expected dates), parsed fast on SQLite like UTCDateTime."""

    impl = Date()
    cache_ok = True

    def result_processor(self, dialect: Any, coltype: Any) -> Any:
        if dialect.name != "sqlite":
            return super().result_processor(dialect, coltype)

        def process(value: str | None) -> date | None:
            return None if value is None else date.fromisoformat(value)

        return process


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime, date: FastDate, int: Integer}


class IdMixin:
    id: Mapped[int] = mapped_column(Id, primary_key=True)


class ShopOwned(IdMixin):
    """Every row belongs to one shop; removing the shop removes the row with it."""

    @declared_attr
    def shop_id(cls) -> Mapped[int]:
        return mapped_column(Id, ForeignKey("shops.id", ondelete="CASCADE"), index=True)


class Timestamps:
    """Row bookkeeping; the service layer sets both from the injected clock."""

    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
