"""The figures of an activation, computed from the database: what every report counts.

Aggregates only: counts per village, hazard names, road names. Never a resident's
name, phone or ID number.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import func
from sqlalchemy import select as select_rows
from sqlmodel import Session, col, select

from sanqing.db import core_rows
from sanqing.models import (
    Activation,
    Approval,
    DutyShift,
    Escalation,
    HazardPoint,
    Inspection,
    InspectionStatus,
    Machine,
    Notice,
    NoticeStatus,
    Relocation,
    RelocationStatus,
    Report,
    RoadIncident,
    RoadSegment,
    RoadStatus,
    Town,
    Village,
)
from sanqing.reporting.casualties import casualty_totals
from sanqing.reporting.overlay import overlay_figures
from sanqing.response import OCCUPYING, get_activation
from sanqing.rules.relocation import VULNERABILITIES

#: Households that have left: moved (not yet reported where), in a shelter (集中安置),
#: with relatives (投亲靠友) or removed by the town (带离).
RELOCATED = (
    RelocationStatus.MOVED,
    RelocationStatus.IN_SHELTER,
    RelocationStatus.WITH_RELATIVES,
    RelocationStatus.REMOVED,
)
#: Where a moved household is, in the order the reports name them.
WHEREABOUTS = (
    RelocationStatus.IN_SHELTER,
    RelocationStatus.WITH_RELATIVES,
    RelocationStatus.REMOVED,
    RelocationStatus.MOVED,
    RelocationStatus.RETURNED,
)


def summarize(*, session: Session, activation_id: str) -> dict[str, Any]:
    """Every figure of the activation, as the database has it now (JSON-ready)."""
    act = get_activation(session, activation_id)
    town = session.get(Town, act.town_code)
    assert town is not None
    rels = _relocations(session, activation_id)
    insp: list[Any] = list(
        session.exec(
            select(
                Inspection.village_code,
                Inspection.hazard_code,
                Inspection.status,
                Inspection.finding,
            ).where(Inspection.activation_id == activation_id)
        )
    )
    roads = list(
        session.exec(select(RoadIncident).where(RoadIncident.activation_id == activation_id))
    )
    return (
        _activation_figures(act, town)
        | _village_figures(session, act, rels, insp)
        | _relocation_figures(rels)
        | _hazard_figures(session, act.id, insp)
        | _road_figures(session, town, roads)
        | _roll_call_figures(session, act.id, rels)
        | _office_figures(session, act.id)
        | overlay_figures(session, act)  # 三情叠加: only when it ran under an epidemic
    )


def _relocations(session: Session, activation_id: str) -> list[Any]:
    """The activation's moves, only the columns the figures use."""
    # A county town has thousands of relocations: no ORM objects, no unused columns.
    return core_rows(
        session,
        select_rows(
            col(Relocation.village_code),
            col(Relocation.people),
            col(Relocation.status),
            col(Relocation.shortfall),
            col(Relocation.shelter_code),
            col(Relocation.vulnerabilities),
            col(Relocation.urgent),
        ).where(col(Relocation.activation_id) == activation_id),
    )


def _short_of_room(r: Any) -> bool:
    """Still needs a place: refused or returned households need none."""
    return bool(r.shortfall) and r.status in OCCUPYING


def _activation_figures(act: Activation, town: Town) -> dict[str, Any]:
    """Which activation: town, level, drill or not, its basis, start and warning."""
    return {
        "activation_id": act.id,
        "town": town.name,
        "town_code": town.code,
        "county": town.county,
        "level": act.level,
        "drill": act.drill,
        "status": act.status,
        # 启动依据: warning / county_notice / town_assessment (rows before it was kept: guessed)
        "basis": act.basis or ("warning" if act.warning else "town_assessment"),
        "activated_at": act.activated_at.isoformat(),
        "warning": act.warning.get("identifier") if act.warning else None,
    }


def _village_figures(
    session: Session, act: Activation, rels: list[Any], insp: list[Any]
) -> dict[str, Any]:
    """The figures of each village, in code order."""
    villages = {
        v.code: v for v in session.exec(select(Village).where(Village.town_code == act.town_code))
    }
    rels_by_village: dict[str, list[Any]] = defaultdict(list)
    for r in rels:
        rels_by_village[r.village_code].append(r)
    insp_by_village: dict[str, list[Any]] = defaultdict(list)
    for i in insp:
        insp_by_village[i.village_code].append(i)
    # Every village the activation answers for, even one with nothing to inspect or move.
    codes = sorted(
        set(act.village_codes) | {i.village_code for i in insp} | {r.village_code for r in rels}
    )
    per_village = [
        _one_village(
            code,
            villages[code].name if code in villages else code,
            rels_by_village.get(code, []),
            insp_by_village.get(code, []),
        )
        for code in codes
    ]
    return {"villages": len(per_village), "village_figures": per_village}


def _one_village(code: str, name: str, vr: list[Any], vi: list[Any]) -> dict[str, Any]:
    """One village's moves and inspected points."""
    return {
        "code": code,
        "name": name,
        "households_to_relocate": len(vr),
        "people_to_relocate": sum(r.people for r in vr),
        "households_relocated": sum(1 for r in vr if r.status in RELOCATED),
        "people_relocated": sum(r.people for r in vr if r.status in RELOCATED),
        "in_shelter": sum(r.people for r in vr if r.status == RelocationStatus.IN_SHELTER),
        "refused": sum(1 for r in vr if r.status == RelocationStatus.REFUSED),
        "unreachable": sum(1 for r in vr if r.status == RelocationStatus.UNREACHABLE),
        "shortfall_people": sum(r.people for r in vr if _short_of_room(r)),
        "hazard_points_inspected": len(
            {i.hazard_code for i in vi if i.status != InspectionStatus.ASSIGNED}
        ),
        "hazard_points_dangerous": len(
            {i.hazard_code for i in vi if i.status == InspectionStatus.DANGER}
        ),
    }


def _relocation_figures(rels: list[Any]) -> dict[str, Any]:
    """Who was ordered to move, who has left and where they are, shelters and shortfall."""
    relocated = [r for r in rels if r.status in RELOCATED]
    return {
        "households_to_relocate": len(rels),
        "people_to_relocate": sum(r.people for r in rels),
        "households_relocated": len(relocated),
        "people_relocated": sum(r.people for r in relocated),
        # Each household once, whatever its kinds; the kinds overlap (one household can
        # be both 独居老人 and 行动不便), so their sum may be larger.
        "vulnerable_households_relocated": sum(1 for r in relocated if r.vulnerabilities),
        "vulnerable_by_kind": {
            v: sum(1 for r in relocated if v in r.vulnerabilities) for v in VULNERABILITIES
        },
        # Where the moved households are (households / people per status).
        "whereabouts": {
            s.value: {
                "households": sum(1 for r in rels if r.status == s),
                "people": sum(r.people for r in rels if r.status == s),
            }
            for s in WHEREABOUTS
        },
        "shelters_used": len({r.shelter_code for r in rels if r.shelter_code}),
        "shelter_shortfall_people": sum(r.people for r in rels if _short_of_room(r)),
        "shelter_shortfall_households": sum(1 for r in rels if _short_of_room(r)),
    }


def _hazard_figures(session: Session, activation_id: str, insp: list[Any]) -> dict[str, Any]:
    """What the rain did: points inspected, found dangerous or to watch, casualties, dangers."""
    hazard_names = dict(
        core_rows(
            session,
            select_rows(col(HazardPoint.code), col(HazardPoint.name)).where(
                col(HazardPoint.code).in_({i.hazard_code for i in insp})
            ),
        )
    )
    inspected = {i.hazard_code for i in insp if i.status != InspectionStatus.ASSIGNED}
    dangerous = {i.hazard_code for i in insp if i.status == InspectionStatus.DANGER}
    watch = {i.hazard_code for i in insp if i.status == InspectionStatus.WATCH} - dangerous
    findings = {i.hazard_code: i.finding for i in insp if i.status == InspectionStatus.DANGER}
    return {
        "hazard_points_inspected": len(inspected),
        "hazard_points_dangerous": len(dangerous),
        "hazard_points_watch": len(watch),
        # Points that showed deformation (danger or watch): checked by professionals
        # before anyone they threaten returns.
        "points_to_check": sorted(hazard_names.get(c, c) for c in dangerous | watch),
        "casualties": casualty_totals(session, activation_id),
        # One line per dangerous point, even when several phases found it.
        "dangers": [
            {"hazard": hazard_names.get(code, code), "finding": finding}
            for code, finding in sorted(findings.items())
        ],
    }


def _road_figures(session: Session, town: Town, roads: list[RoadIncident]) -> dict[str, Any]:
    """Roads blocked, cleared and waiting, each incident, and the machines sent."""
    segments = {
        s.code: s
        for s in session.exec(select(RoadSegment).where(RoadSegment.town_code == town.code))
    }
    machines = {
        m.code: m for m in session.exec(select(Machine).where(Machine.town_code == town.code))
    }
    return {
        "roads_blocked": len(roads),
        "roads_cleared": sum(1 for r in roads if r.status == RoadStatus.REOPENED),
        "roads_waiting": sum(1 for r in roads if r.status == RoadStatus.BLOCKED),
        "road_incidents": [
            {
                "road": segments[r.road_code].name if r.road_code in segments else r.road_code,
                "cause": r.cause,
                "status": r.status,
                "machine": machines[r.machine_code].name if r.machine_code in machines else None,
            }
            for r in sorted(roads, key=lambda r: r.road_code)
        ],
        "machines_dispatched": len({r.machine_code for r in roads if r.machine_code}),
    }


def _roll_call_figures(session: Session, activation_id: str, rels: list[Any]) -> dict[str, Any]:
    """The roll call (点名) and the commander's decision, and the urgent moves."""
    return {
        # Who refused, who nobody reached, who nobody confirmed yet, and how many of
        # them went to a first secretary.
        "households_refused": sum(1 for r in rels if r.status == RelocationStatus.REFUSED),
        "households_unreachable": sum(1 for r in rels if r.status == RelocationStatus.UNREACHABLE),
        "households_unconfirmed": sum(1 for r in rels if r.status == RelocationStatus.ORDERED),
        "households_escalated": session.exec(  # each household once, however far it went
            select(func.count(func.distinct(Escalation.household_code))).where(
                Escalation.activation_id == activation_id
            )
        ).one(),
        "approval": _latest_approval(session, activation_id),
        # 三个紧急撤离: ordered at once, before (or without) the commander's approval
        "urgent_households": sum(1 for r in rels if r.urgent),
        "urgent_people": sum(r.people for r in rels if r.urgent),
    }


def _office_figures(session: Session, activation_id: str) -> dict[str, Any]:
    """The town office's side: people on duty, notices per channel, reports sent."""
    notices = dict(  # counted by the database: a town has thousands of notices
        session.exec(
            select(Notice.channel, func.count())
            .where(
                Notice.activation_id == activation_id,
                Notice.status != NoticeStatus.SUPERSEDED,
            )
            .group_by(Notice.channel)
        ).all()
    )
    duty = list(session.exec(select(DutyShift).where(DutyShift.activation_id == activation_id)))
    reports = session.exec(
        select(Report).where(Report.activation_id == activation_id).order_by(col(Report.created_at))
    )
    return {
        "on_duty": len(duty),
        "notices_by_channel": dict(sorted(notices.items())),
        "reports": [{"id": r.id, "kind": r.kind, "seq": r.seq, "late": r.late} for r in reports],
    }


def _latest_approval(session: Session, activation_id: str) -> str | None:
    return session.exec(
        select(Approval.decision)
        .where(Approval.activation_id == activation_id, col(Approval.decision).is_not(None))
        .order_by(col(Approval.decided_at).desc(), col(Approval.id).desc())
    ).first()


#: Figures whose change makes a follow-up report (续报) due.
CHANGE_FIGURES = (
    "households_refused",
    "households_unreachable",
    "households_escalated",
    "approval",
    "level",
    "villages",
    "households_to_relocate",
    "people_to_relocate",
    "households_relocated",
    "people_relocated",
    "whereabouts",
    "shelters_used",
    "shelter_shortfall_people",
    "hazard_points_dangerous",
    "roads_blocked",
    "roads_cleared",
    "casualties",
)


def progress(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """What changed between two sets of figures: what a 续报 or 日报 says."""

    def num(key: str) -> int:
        return int(after.get(key) or 0) - int(before.get(key) or 0)

    def where(figs: dict[str, Any], status: RelocationStatus, what: str) -> int:
        return int((figs.get("whereabouts") or {}).get(status.value, {}).get(what, 0))

    old_dangers = {d["hazard"] for d in before.get("dangers", [])}
    old_roads = {r["road"]: r["status"] for r in before.get("road_incidents", [])}
    new_roads = [r for r in after.get("road_incidents", []) if r["road"] not in old_roads]
    cleared = [
        r
        for r in after.get("road_incidents", [])
        if r["status"] == RoadStatus.REOPENED and old_roads.get(r["road"]) != RoadStatus.REOPENED
    ]
    moved = {
        s.value: {
            "households": where(after, s, "households") - where(before, s, "households"),
            "people": where(after, s, "people") - where(before, s, "people"),
        }
        for s in WHEREABOUTS
    }
    roll_call = {
        k: after.get(k, 0)
        for k in ("households_refused", "households_unreachable", "households_escalated")
        if after.get(k) != before.get(k)
    }
    out = {
        "ordered_households": num("households_to_relocate"),
        "ordered_people": num("people_to_relocate"),
        "moved_households": num("households_relocated"),
        "moved_people": num("people_relocated"),
        "moved": moved,
        "new_dangers": [d for d in after.get("dangers", []) if d["hazard"] not in old_dangers],
        "new_roads": new_roads,
        "roads_cleared": cleared,
        "shelters_before": before.get("shelters_used", 0),
        "shelters_changed": after.get("shelters_used") != before.get("shelters_used"),
        "shortfall_changed": after.get("shelter_shortfall_people")
        != before.get("shelter_shortfall_people"),
        "roll_call": roll_call,
        "approval_changed": after.get("approval") != before.get("approval"),
        "level_before": before.get("level"),
        "level_changed": bool(before) and after.get("level") != before.get("level"),
        "casualties_changed": (before.get("casualties") or {}) != (after.get("casualties") or {})
        and bool(before.get("casualties") or any(after.get("casualties", {}).values())),
    }
    out["any"] = any(after.get(k) != before.get(k) for k in CHANGE_FIGURES)
    return out
