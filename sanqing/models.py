"""The data model: the registry (who and what is where) and the run state (what happened).

Registry tables are keyed by their stable codes (administrative-division codes for
towns and villages, ledger codes for the rest), so reloading a ledger is an upsert.
Run-state tables are keyed by ids derived from the activation and the subject
(``<activation>:<household>``), so re-running a step is an upsert that changes
nothing: the idempotence of the whole plan rests on these keys.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Index, TypeDecorator, text
from sqlalchemy.engine import Dialect
from sqlmodel import Field, SQLModel


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


def _ts(nullable: bool = True) -> Any:
    return Field(default=None, sa_column=Column(UTCDateTime(), nullable=nullable))


def _json() -> Any:
    return Field(default_factory=list, sa_column=Column(JSON, nullable=False))


# --- vocabularies -------------------------------------------------------------------------


class CadreRole(StrEnum):
    TOWN_LEADER = "town_leader"  # 包片领导 / 镇应急办
    FIRST_SECRETARY = "first_secretary"  # 驻村第一书记
    VILLAGE_CADRE = "village_cadre"  # 村"两委"干部
    TEAM_MEMBER = "team_member"  # 驻村工作队员
    GROUP_LEADER = "group_leader"  # 村民小组长
    GRID_MEMBER = "grid_member"  # 网格员


class HazardKind(StrEnum):
    LANDSLIDE = "landslide"  # 滑坡
    COLLAPSE = "collapse"  # 崩塌
    DEBRIS_FLOW = "debris_flow"  # 泥石流
    ROCKFALL_ROAD = "rockfall_road"  # 落石路段
    WATERLOGGING_ROAD = "waterlogging_road"  # 易积水路段
    RIVER_CHANNEL = "river_channel"  # 河道沟渠
    UNSAFE_HOUSE = "unsafe_house"  # 危险自建房


class RiskLevel(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    VERY_HIGH = "very_high"

    @property
    def rank(self) -> int:
        return list(RiskLevel).index(self)


class Zone(StrEnum):
    DANGER = "danger"  # 危险区
    ALERT = "alert"  # 威胁/警戒区


class SafetyRating(StrEnum):
    """House safety appraisal grades (房屋安全鉴定 A–D; D is a dangerous house)."""

    A = "A"
    B = "B"
    C = "C"
    D = "D"


class StartBasis(StrEnum):
    """On what basis a response level was started (启动依据), as the reports say it."""

    WARNING = "warning"  # 预警自动启动
    COUNTY_NOTICE = "county_notice"  # 县防指通知
    TOWN_ASSESSMENT = "town_assessment"  # 镇防指会商研判

    @property
    def label_zh(self) -> str:
        return {
            "warning": "依据预警自动启动",
            "county_notice": "依据县防指通知启动",
            "town_assessment": "经镇防指会商研判启动",
        }[self.value]


class ActivationStatus(StrEnum):
    ACTIVE = "active"
    STOOD_DOWN = "stood_down"


class InspectionPhase(StrEnum):
    BEFORE = "before"  # 雨前排查
    DURING = "during"  # 雨中除险
    AFTER = "after"  # 雨后巡查


class InspectionStatus(StrEnum):
    ASSIGNED = "assigned"  # given to the monitor, no result yet
    OK = "ok"
    WATCH = "watch"  # signs to watch, no immediate danger
    DANGER = "danger"  # danger found: threatened households move
    CANNOT_JUDGE = "cannot_judge"  # 不能研判: the monitor cannot tell; treated as danger


class RelocationStatus(StrEnum):
    ORDERED = "ordered"
    MOVED = "moved"
    IN_SHELTER = "in_shelter"
    REFUSED = "refused"
    UNREACHABLE = "unreachable"
    RETURNED = "returned"
    WITH_RELATIVES = "with_relatives"  # 投亲靠友: safe, staying with family or friends
    REMOVED = "removed"  # 带离: removed by the town under the local regulations (应撤必撤)


class RoadStatus(StrEnum):
    BLOCKED = "blocked"  # reported, waiting for a machine
    DISPATCHED = "dispatched"  # a machine is on its way / working
    REOPENED = "reopened"  # cleared and open to traffic


class NoticeStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"
    ACKNOWLEDGED = "acknowledged"
    SUPERSEDED = "superseded"  # a newer version of the same list or message replaced it
    EXPIRED = "expired"  # not delivered in time: reported, never dropped silently


class Channel(StrEnum):
    SMS = "sms"
    WECHAT = "wechat"  # village WeChat group message
    LOUDSPEAKER = "loudspeaker"
    DOOR_VISIT = "door_visit"  # door-visit checklist per cadre
    CARD = "card"  # household evacuation card 避险明白卡
    TASK_LIST = "task_list"  # cadre task list
    PHONE_CALL = "phone_call"  # call list for a cadre: households the SMS did not reach
    COUNTY = "county"  # the report upward to the county receiver


class ApprovalDecision(StrEnum):
    APPROVED = "approved"
    REJECTED = "rejected"
    TIMEOUT_PROCEEDED = "timeout_proceeded"  # no answer in time; the plan says proceed
    TIMEOUT_HELD = "timeout_held"  # no answer in time; the plan says hold

    @property
    def moves(self) -> bool:
        """Whether residents are told to move."""
        return self in (ApprovalDecision.APPROVED, ApprovalDecision.TIMEOUT_PROCEEDED)


class ReportKind(StrEnum):
    INITIAL = "initial"  # 首报
    FOLLOW_UP = "follow_up"  # 续报
    FINAL = "final"  # 终报
    DAILY = "daily"  # 日报 (a zero report when nothing changed)


# --- registry -----------------------------------------------------------------------------


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
    role: str  # CadreRole
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
    safety_rating: str  # SafetyRating
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
    kind: str  # HazardKind
    risk: str  # RiskLevel
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
    zone: str  # Zone


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
    """A place of refuge (避险安置点) with its capacity in people."""

    code: str = Field(primary_key=True)
    town_code: str = Field(foreign_key="town.code", index=True)
    village_code: str = Field(foreign_key="village.code", index=True)
    name: str
    kind: str  # 学校 / 村委会 / 文化广场 …
    capacity: int
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


# --- run state ----------------------------------------------------------------------------


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
    level: str  # IV / III / II / I
    status: str = ActivationStatus.ACTIVE
    drill: bool = False
    trigger: str  # warning / manual / drill
    # On what basis the level was started: warning (预警自动), county_notice (县防指通知),
    # town_assessment (镇防指会商研判); None on rows written before the basis was kept.
    basis: str | None = None
    warning_identifier: str | None = None
    warning: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    scenario: str | None = None
    village_codes: list[str] = _json()  # the villages this activation answers for
    commander_code: str | None = None
    activated_at: datetime = _ts(nullable=False)
    updated_at: datetime = _ts(nullable=False)
    stood_down_at: datetime | None = _ts()
    # A drill's clock: seconds ahead of (or behind) the wall clock; 0 for real responses.
    clock_offset_s: float = 0.0


class DutyShift(SQLModel, table=True):
    """A 24-hour duty shift of a cadre during an activation."""

    id: str = Field(primary_key=True)
    activation_id: str = Field(foreign_key="activation.id", index=True)
    cadre_code: str = Field(foreign_key="cadre.code")
    village_code: str | None = None
    post: str  # 带班领导 / 值班人员 / 村值守
    starts_at: datetime = _ts(nullable=False)
    ends_at: datetime = _ts(nullable=False)


class Inspection(SQLModel, table=True):
    """The check of one hazard point in one phase of an activation."""

    id: str = Field(primary_key=True)
    activation_id: str = Field(foreign_key="activation.id", index=True)
    village_code: str = Field(index=True)
    hazard_code: str = Field(foreign_key="hazardpoint.code")
    phase: str  # InspectionPhase
    status: str  # InspectionStatus
    finding: str = ""
    checklist: list[str] = _json()
    inspector_code: str | None = None
    simulated: bool = False
    inspected_at: datetime | None = _ts()


class Relocation(SQLModel, table=True):
    """A household ordered to move, where to, in what order and by whom."""

    id: str = Field(primary_key=True)
    activation_id: str = Field(foreign_key="activation.id", index=True)
    village_code: str = Field(index=True)
    household_code: str = Field(foreign_key="household.code")
    people: int
    zone: str  # the most severe zone among its hazards (or danger for a dangerous house)
    hazard_codes: list[str] = _json()
    reasons: list[str] = _json()  # why it moves: scope rules that matched
    vulnerabilities: list[str] = _json()
    max_risk: str | None = None  # highest RiskLevel among its hazards (None: house only)
    priority: int  # 1 = first; order within the village
    cadre_code: str | None = None
    original_cadre_code: str | None = None  # set when the load was rebalanced
    shelter_code: str | None = None  # None with status ordered and shortfall=True: no room
    shortfall: bool = False
    status: str = RelocationStatus.ORDERED
    # 紧急撤离: ordered at once (danger found, cannot be judged, at night), before any approval
    urgent: bool = False
    # 带离: who removed the household and when (status removed)
    removed_by: str | None = None
    removed_at: datetime | None = _ts()
    ordered_at: datetime = _ts(nullable=False)
    updated_at: datetime = _ts(nullable=False)


class RoadIncident(SQLModel, table=True):
    """A blocked road segment during an activation, and the machine that clears it."""

    id: str = Field(primary_key=True)
    activation_id: str = Field(foreign_key="activation.id", index=True)
    road_code: str = Field(foreign_key="roadsegment.code")
    village_code: str
    cause: str  # 落石 / 塌方 / 积水 / 水毁
    description: str
    machine_code: str | None = None
    status: str = RoadStatus.BLOCKED
    reported_at: datetime = _ts(nullable=False)
    dispatched_at: datetime | None = _ts()
    reopened_at: datetime | None = _ts()


class Notice(SQLModel, table=True):
    """The outbox: every notice is written here before anything is sent."""

    __table_args__ = (Index("ix_notice_status_channel", "status", "channel"),)

    id: str = Field(primary_key=True)  # idempotency key: activation:channel:purpose:recipient
    activation_id: str = Field(foreign_key="activation.id", index=True)
    village_code: str | None = None
    channel: str  # Channel
    purpose: str  # warning / relocation / door_visit / card / tasks / group / broadcast
    audience: str  # resident / cadre / group / public
    recipient: str  # household or cadre code, or village code for groups
    address: str | None = None  # phone number or group: personal data
    locale: str
    subject: str
    body: str
    body_format: str = "text"  # text / html
    status: str = NoticeStatus.PENDING
    attempts: int = 0
    last_error: str | None = None
    created_at: datetime = _ts(nullable=False)
    sent_at: datetime | None = _ts()
    # Delivery (sanqing/delivery/): when to try again, who holds the row while sending,
    # until when it may still go, and what the channel said.
    next_attempt_at: datetime | None = _ts()
    lease_until: datetime | None = _ts()
    lease_owner: str | None = None
    expires_at: datetime | None = _ts()
    provider_id: str | None = None
    delivered_at: datetime | None = _ts()  # the gateway's receipt: it reached the phone
    acknowledged_at: datetime | None = _ts()
    payload: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))


class Report(SQLModel, table=True):
    """A report upward (首报 / 续报 / 终报) as text, HTML and JSON payload."""

    id: str = Field(primary_key=True)
    activation_id: str = Field(foreign_key="activation.id", index=True)
    kind: str  # ReportKind
    seq: int
    title: str
    text: str
    html: str
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    locale: str
    deadline_at: datetime = _ts(nullable=False)
    created_at: datetime = _ts(nullable=False)
    late: bool = False
    status: str = NoticeStatus.PENDING


class Approval(SQLModel, table=True):
    """The commander's decision on telling residents to move (转移审批), one per request."""

    id: str = Field(primary_key=True)  # activation:level:seq
    activation_id: str = Field(foreign_key="activation.id", index=True)
    level: str
    reason: str  # why it was asked: the level, or a manual start without a warning
    decision: str | None = None  # ApprovalDecision; None while waiting
    approver: str = ""
    remarks: str = ""
    simulated: bool = False  # a drill: the scenario answered
    unattended: bool = False  # nobody could answer: the plan's timeout rule applied at once
    requested_at: datetime = _ts(nullable=False)
    decided_at: datetime | None = _ts()


class Patrol(SQLModel, table=True):
    """The after-rain patrol (雨后巡查) of an activation: its all-clear allows the stand-down."""

    id: str = Field(primary_key=True)  # the activation id: one patrol gate per activation
    activation_id: str = Field(foreign_key="activation.id", index=True)
    reason: str  # why the stand-down was asked for (all-clear, expiry, the coordinator)
    requested_at: datetime = _ts(nullable=False)
    confirmed_at: datetime | None = _ts()
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
    status_then: str  # RelocationStatus when escalated (ordered / unreachable)
    to_cadre_code: str | None = None
    at: datetime = _ts(nullable=False)


class TimelineEvent(SQLModel, table=True):
    """A significant event: who did what, when (the response log, 处置日志)."""

    id: str = Field(primary_key=True)  # stable key, so a re-run does not log twice
    activation_id: str = Field(foreign_key="activation.id", index=True)
    at: datetime = _ts(nullable=False)
    actor: str
    action: str
    detail: str = ""
    simulated: bool = False


class FeedRecord(SQLModel, table=True):
    """A warning received from a feed (or refused), and the decision taken on it."""

    id: str = Field(primary_key=True)  # sender|identifier (identifier alone when no sender)
    identifier: str = Field(index=True)
    sender: str = ""
    source_format: str
    source: str = ""
    msg_type: str
    status: str
    hazard: str | None = None
    colour: str | None = None
    sent: datetime | None = _ts()
    expires: datetime | None = _ts()
    warning: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    action: str  # Action
    reason: str = ""
    level: str | None = None
    town_codes: list[str] = _json()
    village_codes: list[str] = _json()
    activation_id: str | None = None
    done: bool = True  # False until the decision was carried out (activate/escalate/…)
    ended: bool = False  # cancelled, superseded by a cancel, all-clear or expired
    received_at: datetime = _ts(nullable=False)
    # The open activations a stand-down or downgrade was decided for (one per town); it
    # acts on no other. None: a start, or a record stored before this column.
    targets: list[str] | None = Field(default=None, sa_column=Column(JSON))


class FeedState(SQLModel, table=True):
    """What the watch remembers of a feed between polls (conditional requests, last error)."""

    url: str = Field(primary_key=True)
    etag: str | None = None
    last_modified: str | None = None
    last_polled_at: datetime | None = _ts()
    last_ok_at: datetime | None = _ts()
    last_error: str | None = None


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
    at: datetime = _ts(nullable=False)
