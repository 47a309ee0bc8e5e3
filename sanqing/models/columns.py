"""Column types shared by the tables: UTC timestamps, JSON lists, the clock."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, DateTime, TypeDecorator
from sqlalchemy import Enum as SAEnum
from sqlalchemy.engine import Dialect
from sqlmodel import Field


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware timestamp stored in UTC on every backend (SQLite forgets the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: sanqing stores timezone-aware times only")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


def ts(nullable: bool = True) -> Any:
    return Field(default=None, sa_column=Column(UTCDateTime(), nullable=nullable))


def json_list() -> Any:
    return Field(default_factory=list, sa_column=Column(JSON, nullable=False))


def enum_column(
    enum: type[StrEnum], *, default: Any = ..., nullable: bool = False, index: bool = False
) -> Any:
    """A column holding one of ``enum``'s values: stored as its text, read back as the member.

    A value outside the vocabulary is refused when written (``LookupError``), on every
    backend; the column stays plain VARCHAR (no database enum type to migrate).
    """
    column: Column[Any] = Column(
        SAEnum(
            enum,
            native_enum=False,
            values_callable=lambda members: [m.value for m in members],
            length=32,
            validate_strings=True,
        ),
        nullable=nullable,
        index=index,
        # also for Core inserts (bulk upserts) that leave the column out
        default=None if default is ... else default,
    )
    if default is ...:
        return Field(sa_column=column)
    return Field(default=default, sa_column=column)
