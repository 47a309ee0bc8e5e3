"""Step 2, 隐患排查: field reports checked against the registry, and the monitors' findings recorded."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from sanqing.db import upsert
from sanqing.errors import (
    FieldReportError,
    HazardNotFound,
)
from sanqing.models import (
    HazardPoint,
    Inspection,
    InspectionPhase,
    InspectionStatus,
    RoadSegment,
    Village,
)
from sanqing.plans import Plan
from sanqing.privacy import mask_text
from sanqing.response.locks import hold_open
from sanqing.response.timeline import clock, log_event
from sanqing.scenarios import FindingInput, RoadReport


def check_field_reports(
    session: Session,
    *,
    town_code: str,
    findings: Sequence[FindingInput],
    roads: Sequence[RoadReport],
) -> None:
    """Refuse every unknown hazard point or road at once, before anything is changed."""
    hazards = session.exec(
        select(HazardPoint.code, HazardPoint.name)
        .join(Village, col(Village.code) == col(HazardPoint.village_code))
        .where(Village.town_code == town_code)
    ).all()
    hazard_keys = {c for c, _ in hazards} | {n for _, n in hazards}
    segments = session.exec(
        select(RoadSegment.code, RoadSegment.name).where(RoadSegment.town_code == town_code)
    ).all()
    road_keys = {c for c, _ in segments} | {n for _, n in segments}
    problems = [
        f"findings[{i}]: hazard point {f.hazard!r} is not in town {town_code}"
        for i, f in enumerate(findings)
        if f.hazard not in hazard_keys
    ] + [
        f"roads[{i}]: road segment {r.road!r} is not in town {town_code}"
        for i, r in enumerate(roads)
        if r.road not in road_keys
    ]
    if problems:
        raise FieldReportError(
            "field reports name unknown places (use a code or the exact name from "
            "hazard_points.csv / roads.csv); nothing was started:\n  " + "\n  ".join(problems)
        )


def resolve_findings(
    session: Session, *, town_code: str, findings: Sequence[FindingInput]
) -> dict[str, FindingInput]:
    """Map findings to hazard codes (a finding may name the point); unknown names are errors."""
    if not findings:
        return {}
    rows = session.exec(
        select(HazardPoint.code, HazardPoint.name)
        .join(Village, col(Village.code) == col(HazardPoint.village_code))
        .where(Village.town_code == town_code)
    ).all()
    by_code = {code: code for code, _ in rows}
    by_name = {name: code for code, name in rows}
    out: dict[str, FindingInput] = {}
    for i, f in enumerate(findings):
        code = by_code.get(f.hazard) or by_name.get(f.hazard)
        if code is None:
            raise HazardNotFound(
                f"findings[{i}]: hazard point {f.hazard!r} is not in town {town_code}; "
                "use a code or the exact name from hazard_points.csv"
            )
        out[code] = f
    return out


@dataclass(frozen=True)
class InspectionResult:
    village_code: str
    inspected: int
    dangerous: int
    watch: int
    pending: int
    closed: bool = False  # the activation had ended: the step did nothing


def inspect_hazards(
    *,
    session: Session,
    activation_id: str,
    village_code: str,
    phase: InspectionPhase,
    plan: Plan,
    findings: Mapping[str, FindingInput],
    drill: bool,
    now: datetime | None = None,
) -> InspectionResult:
    """Put every hazard point of the village on the checklist and record the findings.

    Points without a finding stay ``assigned`` to their monitor, except in a
    drill, where they are marked ``ok`` (simulated) so the drill runs unattended.
    A finding never downgrades a recorded danger.
    """
    if hold_open(session, activation_id) is None:
        return InspectionResult(village_code, 0, 0, 0, 0, closed=True)
    now = now or clock(session, activation_id)  # the row just read: no second query
    hazards = list(
        session.exec(
            select(HazardPoint)
            .where(HazardPoint.village_code == village_code)
            .order_by(HazardPoint.code)
        )
    )
    existing = _recorded(
        session, activation_id=activation_id, village_code=village_code, phase=phase
    )
    rows = []
    for hz in hazards:
        status, note, simulated = _reported(findings.get(hz.code), drill=drill)
        if _keeps(existing.get(hz.code), status=status, note=note):
            continue
        rows.append(
            {
                "id": f"{activation_id}:{hz.code}:{phase.value}",
                "activation_id": activation_id,
                "village_code": village_code,
                "hazard_code": hz.code,
                "phase": phase.value,
                "status": status.value,
                "finding": mask_text(note),  # field notes may quote a phone: never keep it
                "checklist": plan.checklists.get(hz.kind, []),
                "inspector_code": hz.monitor_cadre_code,
                "simulated": simulated,
                "inspected_at": None if status == InspectionStatus.ASSIGNED else now,
            }
        )
    upsert(session, Inspection, rows, update=["status", "finding", "simulated", "inspected_at"])
    _log_dangers(session, activation_id, rows, hazards, simulated=drill, now=now)
    session.flush()
    return _result(session, activation_id=activation_id, village_code=village_code, phase=phase)


def _recorded(
    session: Session, *, activation_id: str, village_code: str, phase: InspectionPhase
) -> dict[str, Inspection]:
    """The village's inspections already recorded for the phase, by hazard point."""
    return {
        i.hazard_code: i
        for i in session.exec(
            select(Inspection).where(
                Inspection.activation_id == activation_id,
                Inspection.village_code == village_code,
                Inspection.phase == phase,
            )
        )
    }


def _reported(finding: FindingInput | None, *, drill: bool) -> tuple[InspectionStatus, str, bool]:
    """A point's status, note and whether it is simulated: found, a drill's ``ok``, or assigned."""
    if finding is not None:
        return finding.status, finding.note, False
    if drill:
        return InspectionStatus.OK, "未见异常（演练模拟）", True
    return InspectionStatus.ASSIGNED, "", False


def _keeps(old: Inspection | None, *, status: InspectionStatus, note: str) -> bool:
    """Whether the recorded inspection stands: a danger, no news, or the same finding."""
    if old is None:
        return False
    if old.status == InspectionStatus.DANGER or status == InspectionStatus.ASSIGNED:
        return True  # keep what the field already reported
    return old.status == status and old.finding == mask_text(note)


def _log_dangers(
    session: Session,
    activation_id: str,
    rows: list[dict[str, Any]],
    hazards: list[HazardPoint],
    *,
    simulated: bool,
    now: datetime,
) -> None:
    """A timeline line for each point found dangerous, or that cannot be judged."""
    names = {hz.code: hz.name for hz in hazards}
    for r in rows:
        if r["status"] in (InspectionStatus.DANGER, InspectionStatus.CANNOT_JUDGE):
            log_event(
                session,
                activation_id=activation_id,
                key=f"danger:{r['hazard_code']}",
                actor=r["inspector_code"] or "监测员",
                action="发现险情" if r["status"] == InspectionStatus.DANGER else "险情不能研判",
                detail=f"{names[r['hazard_code']]}：{r['finding']}",
                at=now,
                simulated=simulated,
            )


def _result(
    session: Session, *, activation_id: str, village_code: str, phase: InspectionPhase
) -> InspectionResult:
    """The village's checklist for the phase, counted by status."""
    recorded = list(
        session.exec(
            select(Inspection.status).where(
                Inspection.activation_id == activation_id,
                Inspection.village_code == village_code,
                Inspection.phase == phase,
            )
        )
    )
    return InspectionResult(
        village_code=village_code,
        inspected=sum(1 for s in recorded if s != InspectionStatus.ASSIGNED),
        dangerous=sum(1 for s in recorded if s == InspectionStatus.DANGER),
        watch=sum(1 for s in recorded if s == InspectionStatus.WATCH),
        pending=sum(1 for s in recorded if s == InspectionStatus.ASSIGNED),
    )
