"""The vocabularies of the tables: roles, hazards, zones and the states a row moves through."""

from __future__ import annotations

from enum import StrEnum
from functools import cache

from sanqing.labels import label


class _Ranked(StrEnum):
    """An ordered vocabulary: ``rank`` is a member's place in its own enum (looked up per
    household in the rules, so a table, not a scan)."""

    @property
    def rank(self) -> int:
        return _ranks(type(self))[self]


@cache
def _ranks(enum: type[_Ranked]) -> dict[_Ranked, int]:
    # One table per enum: members of two enums with the same value are equal as strings.
    return {member: i for i, member in enumerate(enum)}


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


class RiskLevel(_Ranked):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    VERY_HIGH = "very_high"


class Zone(StrEnum):
    DANGER = "danger"  # 危险区
    ALERT = "alert"  # 威胁/警戒区


class SafetyRating(StrEnum):
    """House safety appraisal grades (房屋安全鉴定 A–D; D is a dangerous house)."""

    A = "A"
    B = "B"
    C = "C"
    D = "D"


class Level(_Ranked):
    """Response levels, IV (lowest) to I (highest)."""

    IV = "IV"
    III = "III"
    II = "II"
    I = "I"  # noqa: E741

    @property
    def label_zh(self) -> str:
        return label("zh-CN", "level", self.value)


class StartBasis(StrEnum):
    """On what basis a response level was started (启动依据), as the reports say it."""

    WARNING = "warning"  # 预警自动启动
    COUNTY_NOTICE = "county_notice"  # 县防指通知
    TOWN_ASSESSMENT = "town_assessment"  # 镇防指会商研判

    @property
    def label_zh(self) -> str:
        return label("zh-CN", "basis", self.value)


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


class ArrivalRisk(_Ranked):
    NONE = "none"
    LOW = "low"  # 低风险区
    MEDIUM = "medium"  # 中风险区
    HIGH = "high"  # 高风险区


class MonitoringStatus(StrEnum):
    """Where a registered person stands in an epidemic response (摸排 → 健康监测)."""

    NONE = "none"  # screened: nothing called for (or a class the level does not screen)
    TEST_ONLY = "test_only"  # a test at a point, no home monitoring
    MONITORING = "monitoring"  # home health monitoring (居家健康监测) running
    ENDED = "ended"  # its days are over, healthy
    REFERRED = "referred"  # symptoms: handed to the 村医/卫生院


class FollowUpAnswer(StrEnum):
    HEALTHY = "healthy"  # 健康
    SYMPTOMS = "symptoms"  # 有症状
    UNREACHABLE = "unreachable"  # 联系不上
