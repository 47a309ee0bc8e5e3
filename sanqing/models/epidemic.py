"""The epidemic plan's tables: the people registered in the villages' 摸排 (so far)."""

from __future__ import annotations

from datetime import date, datetime

from sqlmodel import Field, SQLModel

from sanqing.models.columns import enum_column, ts
from sanqing.models.vocab import ArrivalRisk


class RegisteredPerson(SQLModel, table=True):
    """A returnee or outsider as a village registered them; one row per person and town.

    The id is the town and a key of the person (their ID number, or without one their
    name, phone and village), hashed: importing the same person again updates the row.
    """

    id: str = Field(primary_key=True)
    town_code: str = Field(foreign_key="town.code", index=True)
    village_code: str = Field(foreign_key="village.code", index=True)
    grid: str = ""
    kind: str  # returnee / outsider
    name: str  # personal data: never in logs or reports
    id_number: str | None = None  # personal data
    phone: str | None = None  # personal data
    came_from: str  # division code of where they stayed
    left_on: date
    arrived_on: date
    risk: ArrivalRisk = enum_column(ArrivalRisk)  # from the plan's risk areas at import
    source: str  # FILE:SHEET:ROW it was last imported from
    imported_at: datetime = ts(nullable=False)
