"""The data model: the registry (who and what is where) and the run state (what happened).

Registry tables are keyed by their stable codes (administrative-division codes for
towns and villages, ledger codes for the rest), so reloading a ledger is an upsert.
Run-state tables are keyed by ids derived from the activation and the subject
(``<activation>:<household>``), so re-running a step is an upsert that changes
nothing: the idempotence of the whole plan rests on these keys.
"""

from __future__ import annotations

from sanqing.models.columns import (
    UTCDateTime,
    json_list,
    ts,
    utcnow,
)
from sanqing.models.epidemic import (
    DoorKnock,
    FollowUp,
    RegisteredPerson,
    Screening,
    ShuttleSeat,
    SupplyLine,
)
from sanqing.models.feeds import (
    FeedRecord,
    FeedState,
)
from sanqing.models.outbox import (
    Notice,
    Report,
)
from sanqing.models.registry import (
    AssistanceTeam,
    Cadre,
    Grid,
    HazardPoint,
    HazardThreat,
    Household,
    Machine,
    RoadSegment,
    Shelter,
    Town,
    Village,
)
from sanqing.models.run import (
    Activation,
    Approval,
    Casualty,
    DutyShift,
    Escalation,
    Inspection,
    Patrol,
    Relocation,
    RoadIncident,
    TimelineEvent,
)
from sanqing.models.vocab import (
    ActivationStatus,
    ApprovalDecision,
    ArrivalRisk,
    CadreRole,
    Channel,
    FollowUpAnswer,
    HazardKind,
    InspectionPhase,
    InspectionStatus,
    Level,
    MonitoringStatus,
    NoticeStatus,
    RelocationStatus,
    ReportKind,
    RiskLevel,
    RoadStatus,
    SafetyRating,
    StartBasis,
    Zone,
)

__all__ = [
    "Activation",
    "ActivationStatus",
    "Approval",
    "ApprovalDecision",
    "ArrivalRisk",
    "AssistanceTeam",
    "Cadre",
    "CadreRole",
    "Casualty",
    "Channel",
    "DoorKnock",
    "DutyShift",
    "Escalation",
    "FeedRecord",
    "FeedState",
    "FollowUp",
    "FollowUpAnswer",
    "Grid",
    "HazardKind",
    "HazardPoint",
    "HazardThreat",
    "Household",
    "Inspection",
    "InspectionPhase",
    "InspectionStatus",
    "Level",
    "Machine",
    "MonitoringStatus",
    "Notice",
    "NoticeStatus",
    "Patrol",
    "RegisteredPerson",
    "Relocation",
    "RelocationStatus",
    "Report",
    "ReportKind",
    "RiskLevel",
    "RoadIncident",
    "RoadSegment",
    "RoadStatus",
    "SafetyRating",
    "Screening",
    "Shelter",
    "ShuttleSeat",
    "StartBasis",
    "SupplyLine",
    "TimelineEvent",
    "Town",
    "UTCDateTime",
    "Village",
    "Zone",
    "json_list",
    "ts",
    "utcnow",
]
