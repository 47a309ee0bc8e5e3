"""The epidemic plan's tables: who was registered (摸排), their screening and follow-ups
(健康监测), the points' supplies (物资保障) and the vaccination shuttles (接送疫苗接种).

Run-state rows are keyed by the activation and their subject, as in the flood plan: a
step run again writes nothing new.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlmodel import Field, SQLModel

from sanqing.models.columns import enum_column, ts
from sanqing.models.vocab import ArrivalRisk, FollowUpAnswer, MonitoringStatus


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
    household_code: str | None = None  # the household they stay with, when the ledger says


class Screening(SQLModel, table=True):
    """A registered person as an epidemic response classed them, and what it called for."""

    id: str = Field(primary_key=True)  # activation:person
    activation_id: str = Field(foreign_key="activation.id", index=True)
    person_id: str = Field(foreign_key="registeredperson.id", index=True)
    village_code: str = Field(index=True)
    household_code: str | None = None
    risk: ArrivalRisk = enum_column(ArrivalRisk)
    status: MonitoringStatus = enum_column(MonitoringStatus)
    monitoring_days: int = 0
    monitoring_until: date | None = None  # the last day of home monitoring
    test: bool = False  # a test at a testing point
    cadre_code: str | None = None  # the grid member who follows up
    screened_at: datetime = ts(nullable=False)
    ended_at: datetime | None = ts()


class FollowUp(SQLModel, table=True):
    """One follow-up (健康监测随访) of a monitored person, due at a time, and its answer."""

    id: str = Field(primary_key=True)  # activation:person:seq
    activation_id: str = Field(foreign_key="activation.id", index=True)
    person_id: str = Field(foreign_key="registeredperson.id")
    village_code: str = Field(index=True)
    seq: int
    cadre_code: str | None = None
    due_at: datetime = ts(nullable=False)
    answer: FollowUpAnswer | None = enum_column(FollowUpAnswer, default=None, nullable=True)
    answered_at: datetime | None = ts()
    note: str = ""
    escalated_to: str = ""  # 村医 / 卫生院 / 镇: who was told, in order
    simulated: bool = False


class SupplyLine(SQLModel, table=True):
    """What one point needs of one item over the response, its stock, request and delivery."""

    id: str = Field(primary_key=True)  # activation:point:item
    activation_id: str = Field(foreign_key="activation.id", index=True)
    point_code: str
    item: str
    needed: int
    stock: int
    requested: int
    delivered: int | None = None  # None: not reported yet
    supplier: str = ""
    paid_by: str = ""
    updated_at: datetime = ts(nullable=False)


class ShuttleSeat(SQLModel, table=True):
    """A resident who asked for a ride to vaccination: their trip, or why they have none."""

    id: str = Field(primary_key=True)  # activation:household
    activation_id: str = Field(foreign_key="activation.id", index=True)
    household_code: str = Field(foreign_key="household.code")
    village_code: str
    wheelchair: bool = False
    vehicle_code: str | None = None
    trip: int | None = None  # the vehicle's trip number that day
    pickup_at: datetime | None = ts()
    unassigned_reason: str = ""
    vaccinated: bool | None = None  # None: not confirmed yet


class DoorKnock(SQLModel, table=True):
    """敲门行动: a household on a grid's door-knocking list, its day, and whether reached."""

    id: str = Field(primary_key=True)  # activation:household
    activation_id: str = Field(foreign_key="activation.id", index=True)
    household_code: str = Field(foreign_key="household.code")
    village_code: str = Field(index=True)
    grid_code: str | None = None
    day: int  # the day of the door-knocking (1 = the first)
    knocked_at: datetime | None = ts()  # None: not reached yet
    note: str = ""
