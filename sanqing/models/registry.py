"""The registry: who and what is where, keyed by stable codes, so a reload is an upsert."""

from __future__ import annotations

from sqlmodel import Field, SQLModel

from sanqing.models.columns import enum_column
from sanqing.models.vocab import CadreRole, HazardKind, RiskLevel, SafetyRating, Zone


class Town(SQLModel, table=True):
    """A township (乡镇): the response unit."""

    code: str = Field(primary_key=True, max_length=9)
    key: str = Field(index=True, unique=True)  # short name used on the command line: "jifeng"
    name: str
    county_code: str = Field(max_length=6)
    county: str
    office: str  # who signs reports: 鸡峰镇人民政府
    duty_phone: str
    lat: float
    lon: float
    medical_unit: str | None = None  # 救护单位: the town's 卫生院
    medical_unit_phone: str | None = None


class Village(SQLModel, table=True):
    """An administrative village (行政村)."""

    code: str = Field(primary_key=True, max_length=12)
    town_code: str = Field(foreign_key="town.code", index=True)
    name: str
    lat: float
    lon: float


class Grid(SQLModel, table=True):
    """A grid (网格) of a village, with its responsible person."""

    code: str = Field(primary_key=True)
    village_code: str = Field(foreign_key="village.code", index=True)
    name: str
    responsible_cadre_code: str | None = None


class AssistanceTeam(SQLModel, table=True):
    """A village assistance team (驻村工作队), merged with the village committee in a response."""

    code: str = Field(primary_key=True)
    village_code: str = Field(foreign_key="village.code", index=True)
    name: str
    sent_by: str  # the unit that sent the team


class Cadre(SQLModel, table=True):
    """A person with a duty in the response: town leader, first secretary, cadre, grid member."""

    code: str = Field(primary_key=True)
    town_code: str = Field(foreign_key="town.code", index=True)
    village_code: str | None = Field(default=None, index=True)
    team_code: str | None = None
    name: str
    role: CadreRole = enum_column(CadreRole)
    title: str
    phone: str


class Household(SQLModel, table=True):
    """A household of the ledger (户), with what decides whether and how urgently it moves."""

    code: str = Field(primary_key=True)
    village_code: str = Field(foreign_key="village.code", index=True)
    grid_code: str | None = None
    group_name: str  # 村民小组 (社 in Longnan): 一社, 二社 …
    head_name: str
    head_id_number: str | None = None  # personal data: never in logs or reports
    phone: str | None = None  # personal data: never in logs or reports
    members: int
    address: str
    lat: float
    lon: float
    house_type: str  # 砖混 / 砖木 / 土木 / 框架
    safety_rating: SafetyRating = enum_column(SafetyRating)
    five_guarantee: bool = False  # 五保户
    left_behind_children: bool = False  # 留守儿童
    hardship: bool = False  # 困难户
    elderly_alone: bool = False  # 独居老人
    mobility_impaired: bool = False  # 行动不便
    responsible_cadre_code: str | None = None  # 包保责任人
    card_issued: bool = True  # 避险明白卡 handed out before the flood season


class HazardPoint(SQLModel, table=True):
    """A geological-hazard point, risky road segment, river channel or unsafe house."""

    code: str = Field(primary_key=True)
    village_code: str = Field(foreign_key="village.code", index=True)
    name: str
    kind: HazardKind = enum_column(HazardKind)
    risk: RiskLevel = enum_column(RiskLevel)
    lat: float
    lon: float
    description: str
    monitor_cadre_code: str | None = None  # 监测责任人
    warning_signal: str  # 预警信号: 鸣锣 / 口哨 / 广播
    evacuation_route: str
    road_code: str | None = None  # for road hazards: the segment


class HazardThreat(SQLModel, table=True):
    """A household threatened by a hazard point, in its danger or alert zone."""

    hazard_code: str = Field(foreign_key="hazardpoint.code", primary_key=True)
    household_code: str = Field(foreign_key="household.code", primary_key=True, index=True)
    zone: Zone = enum_column(Zone)


class RoadSegment(SQLModel, table=True):
    """A road segment that can be blocked and must be cleared."""

    code: str = Field(primary_key=True)
    town_code: str = Field(foreign_key="town.code", index=True)
    village_code: str = Field(foreign_key="village.code", index=True)
    road_name: str  # 成康公路
    name: str  # the segment: 石门段 K12+300–K12+800
    road_class: str  # 县道 / 乡道 / 村道
    lat: float
    lon: float


class Shelter(SQLModel, table=True):
    """A place of refuge (避险安置点) with its capacity in people.

    ``isolation_places``: places in rooms that can be kept apart (隔离安置), for people
    under home health monitoring when a flood comes during the epidemic; they are not
    part of ``capacity``.
    """

    code: str = Field(primary_key=True)
    town_code: str = Field(foreign_key="town.code", index=True)
    village_code: str = Field(foreign_key="village.code", index=True)
    name: str
    kind: str  # 学校 / 村委会 / 文化广场 …
    capacity: int
    isolation_places: int = 0
    lat: float
    lon: float
    manager_cadre_code: str | None = None


class Machine(SQLModel, table=True):
    """A piece of machinery for road clearing (挖掘机, 装载机 …)."""

    code: str = Field(primary_key=True)
    town_code: str = Field(foreign_key="town.code", index=True)
    kind: str
    name: str
    operator_name: str
    operator_phone: str
    lat: float
    lon: float
