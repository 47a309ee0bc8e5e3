"""Run state: what happened in a response, keyed by ids derived from the activation."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, text
from sqlmodel import Field, SQLModel

from sanqing.models.columns import enum_column, json_list, ts
from sanqing.models.vocab import (
    ActivationStatus,
    ApprovalDecision,
    InspectionPhase,
    InspectionStatus,
    Level,
    RelocationStatus,
    RiskLevel,
    RoadStatus,
    StartBasis,
    Zone,
)


class Activation(SQLModel, table=True):
    """One activation of a plan for a town: the unit everything else hangs on."""

    # At most one open activation per town and plan (drills apart): the town lock
    # (response.lock_town) keeps it so; the database refuses a second one if a bug did not.
    __table_args__ = (
        Index(
            "uq_activation_open",
            "town_code",
            "plan",
            "drill",
            unique=True,
            sqlite_where=text("status = 'active'"),
            postgresql_where=text("status = 'active'"),
        ),
    )

    id: str = Field(primary_key=True)
    town_code: str = Field(foreign_key="town.code", index=True)
    plan: str  # "flood"
    level: Level = enum_column(Level)
    status: ActivationStatus = enum_column(ActivationStatus, default=ActivationStatus.ACTIVE)
    drill: bool = False
    trigger: str  # warning / manual / drill
    # On what basis the level was started: warning (预警自动), county_notice (县防指通知),
    # town_assessment (镇防指会商研判); None on rows written before the basis was kept.
    basis: StartBasis | None = enum_column(StartBasis, default=None, nullable=True)
    warning_identifier: str | None = None
    warning: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    scenario: str | None = None
    village_codes: list[str] = json_list()  # the villages this activation answers for
    commander_code: str | None = None
    activated_at: datetime = ts(nullable=False)
    updated_at: datetime = ts(nullable=False)
    stood_down_at: datetime | None = ts()
    # A drill's clock: seconds ahead of (or behind) the wall clock; 0 for real responses.
    clock_offset_s: float = 0.0


class DutyShift(SQLModel, table=True):
    """A 24-hour duty shift of a cadre during an activation."""

    id: str = Field(primary_key=True)
    activation_id: str = Field(foreign_key="activation.id", index=True)
    cadre_code: str = Field(foreign_key="cadre.code")
    village_code: str | None = None
    post: str  # 带班领导 / 值班人员 / 村值守; at an epidemic point: the point's name
    starts_at: datetime = ts(nullable=False)
    ends_at: datetime = ts(nullable=False)
    point_code: str | None = None  # an epidemic monitoring or testing point (24 小时执勤)
    acknowledged_at: datetime | None = ts()  # 叫应: the person on duty confirmed the shift
    handed_over_at: datetime | None = ts()  # 交接班 logged at the shift's end
    swapped_from: str | None = None  # the cadre first rostered, when a swap was recorded


class Inspection(SQLModel, table=True):
    """The check of one hazard point in one phase of an activation."""

    id: str = Field(primary_key=True)
    activation_id: str = Field(foreign_key="activation.id", index=True)
    village_code: str = Field(index=True)
    hazard_code: str = Field(foreign_key="hazardpoint.code")
    phase: InspectionPhase = enum_column(InspectionPhase)
    status: InspectionStatus = enum_column(InspectionStatus)
    finding: str = ""
    checklist: list[str] = json_list()
    inspector_code: str | None = None
    simulated: bool = False
    inspected_at: datetime | None = ts()


class Relocation(SQLModel, table=True):
    """A household ordered to move, where to, in what order and by whom."""

    id: str = Field(primary_key=True)
    activation_id: str = Field(foreign_key="activation.id", index=True)
    village_code: str = Field(index=True)
    household_code: str = Field(foreign_key="household.code")
    people: int
    zone: Zone = enum_column(
        Zone
    )  # the most severe zone among its hazards (or danger for a dangerous house)
    hazard_codes: list[str] = json_list()
    reasons: list[str] = json_list()  # why it moves: scope rules that matched
    vulnerabilities: list[str] = json_list()
    max_risk: RiskLevel | None = enum_column(RiskLevel, default=None, nullable=True)
    # highest RiskLevel among its hazards (None: house only)
    priority: int  # 1 = first; order within the village
    cadre_code: str | None = None
    original_cadre_code: str | None = None  # set when the load was rebalanced
    shelter_code: str | None = None  # None with status ordered and shortfall=True: no room
    shortfall: bool = False
    # 三情叠加: placed (or short) in a shelter's isolation places, not its general ones,
    # and how many of the household were under home health monitoring when placed
    isolation: bool = False
    monitored: int = 0
    status: RelocationStatus = enum_column(RelocationStatus, default=RelocationStatus.ORDERED)
    # 紧急撤离: ordered at once (danger found, cannot be judged, at night), before any approval
    urgent: bool = False
    # 带离: who removed the household and when (status removed)
    removed_by: str | None = None
    removed_at: datetime | None = ts()
    ordered_at: datetime = ts(nullable=False)
    updated_at: datetime = ts(nullable=False)


class RoadIncident(SQLModel, table=True):
    """A blocked road segment during an activation, and the machine that clears it."""

    id: str = Field(primary_key=True)
    activation_id: str = Field(foreign_key="activation.id", index=True)
    road_code: str = Field(foreign_key="roadsegment.code")
    village_code: str
    cause: str  # 落石 / 塌方 / 积水 / 水毁
    description: str
    machine_code: str | None = None
    status: RoadStatus = enum_column(RoadStatus, default=RoadStatus.BLOCKED)
    reported_at: datetime = ts(nullable=False)
    dispatched_at: datetime | None = ts()
    reopened_at: datetime | None = ts()


class Approval(SQLModel, table=True):
    """The commander's decision on telling residents to move (转移审批), one per request."""

    id: str = Field(primary_key=True)  # activation:level:seq
    activation_id: str = Field(foreign_key="activation.id", index=True)
    level: Level = enum_column(Level)
    reason: str  # why it was asked: the level, or a manual start without a warning
    # None while waiting
    decision: ApprovalDecision | None = enum_column(ApprovalDecision, default=None, nullable=True)
    approver: str = ""
    remarks: str = ""
    simulated: bool = False  # a drill: the scenario answered
    unattended: bool = False  # nobody could answer: the plan's timeout rule applied at once
    requested_at: datetime = ts(nullable=False)
    decided_at: datetime | None = ts()


class Patrol(SQLModel, table=True):
    """The after-rain patrol (雨后巡查) of an activation: its all-clear allows the stand-down."""

    id: str = Field(primary_key=True)  # the activation id: one patrol gate per activation
    activation_id: str = Field(foreign_key="activation.id", index=True)
    reason: str  # why the stand-down was asked for (all-clear, expiry, the coordinator)
    requested_at: datetime = ts(nullable=False)
    confirmed_at: datetime | None = ts()
    confirmed_by: str = ""
    all_clear: bool | None = None  # None: not reported yet; False: danger remains
    remarks: str = ""
    simulated: bool = False


class Escalation(SQLModel, table=True):
    """A household whose move was not confirmed in time, handed up to a responsible person."""

    id: str = Field(primary_key=True)  # activation:household:kind
    activation_id: str = Field(foreign_key="activation.id", index=True)
    village_code: str
    household_code: str = Field(foreign_key="household.code")
    kind: str  # roll_call
    # when escalated (ordered / unreachable)
    status_then: RelocationStatus = enum_column(RelocationStatus)
    to_cadre_code: str | None = None
    at: datetime = ts(nullable=False)


class TimelineEvent(SQLModel, table=True):
    """A significant event: who did what, when (the response log, 处置日志)."""

    id: str = Field(primary_key=True)  # stable key, so a re-run does not log twice
    activation_id: str = Field(foreign_key="activation.id", index=True)
    at: datetime = ts(nullable=False)
    actor: str
    action: str
    detail: str = ""
    simulated: bool = False


class Casualty(SQLModel, table=True):
    """People dead, missing or injured in a response (人员伤亡), as counts with a note.

    One row per report of the town office (``<activation>:<seq>``); the figures of a
    response are the sums of its rows. Counts only: no names, phones or ID numbers.
    """

    id: str = Field(primary_key=True)
    activation_id: str = Field(foreign_key="activation.id", index=True)
    village_code: str | None = None
    dead: int = 0
    missing: int = 0
    injured: int = 0
    note: str = ""
    reported_by: str = ""
    at: datetime = ts(nullable=False)
