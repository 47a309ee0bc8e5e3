"""Step 4, 道路抢通: blocked roads get the nearest free machine, one road per machine at a time."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from sanqing.db import upsert
from sanqing.errors import (
    RoadNotFound,
)
from sanqing.models import (
    Activation,
    Machine,
    RoadIncident,
    RoadSegment,
    RoadStatus,
)
from sanqing.plans import Plan
from sanqing.privacy import mask_text
from sanqing.response.activation import holds_resources
from sanqing.response.locks import hold_town_open
from sanqing.response.timeline import clock, log_event
from sanqing.rules.roads import BlockedRoad, FreeMachine, dispatch, machine_preference
from sanqing.scenarios import RoadReport


@dataclass(frozen=True)
class RoadResult:
    blocked: int
    dispatched: int
    reopened: int
    waiting_for_machine: int
    closed: bool = False  # the activation had ended: the step did nothing


def clear_roads(
    *,
    session: Session,
    activation_id: str,
    reports: Sequence[RoadReport],
    plan: Plan,
    now: datetime | None = None,
) -> RoadResult:
    """Record blocked roads, send machinery, and reopen the roads reported cleared.

    A machine serves one incident at a time; when its road reopens it is free
    for the next blocked road, oldest first.
    """
    now = now or clock(session, activation_id)
    held = hold_town_open(session, activation_id)
    if held is None:
        return RoadResult(0, 0, 0, 0, closed=True)
    act = held
    segments = list(session.exec(select(RoadSegment).where(RoadSegment.town_code == act.town_code)))
    resolved = _resolve(segments, reports, town_code=act.town_code)
    _record_blocked(session, act=act, resolved=resolved, now=now)
    cleared = {seg.code for seg, rep in resolved if rep.cleared}
    roads = {s.code: s for s in segments}
    machines = {
        m.code: m for m in session.exec(select(Machine).where(Machine.town_code == act.town_code))
    }
    # Dispatch, let the cleared roads reopen, and dispatch again until nothing changes.
    while True:
        incidents = list(
            session.exec(
                select(RoadIncident)
                .where(RoadIncident.activation_id == activation_id)
                .order_by(col(RoadIncident.reported_at), col(RoadIncident.id))
            )
        )
        sent = _dispatch(
            session,
            act=act,
            waiting=[i for i in incidents if i.status == RoadStatus.BLOCKED],
            roads=roads,
            machines=machines,
            preferred=plan.defaults.clearing_machinery,
            now=now,
        )
        reopened = _reopen(
            session, act=act, incidents=incidents, cleared=cleared, roads=roads, now=now
        )
        session.flush()
        if not (sent or reopened):
            break
    final = list(
        session.exec(select(RoadIncident).where(RoadIncident.activation_id == activation_id))
    )
    return RoadResult(
        blocked=len(final),
        dispatched=sum(1 for i in final if i.status == RoadStatus.DISPATCHED),
        reopened=sum(1 for i in final if i.status == RoadStatus.REOPENED),
        waiting_for_machine=sum(1 for i in final if i.status == RoadStatus.BLOCKED),
    )


def _resolve(
    segments: list[RoadSegment], reports: Sequence[RoadReport], *, town_code: str
) -> list[tuple[RoadSegment, RoadReport]]:
    """Each report with the town's road segment it names (by code or exact name)."""
    by_code = {s.code: s for s in segments}
    by_name = {s.name: s for s in segments}
    resolved: list[tuple[RoadSegment, RoadReport]] = []
    for i, rep in enumerate(reports):
        seg = by_code.get(rep.road) or by_name.get(rep.road)
        if seg is None:
            raise RoadNotFound(
                f"roads[{i}]: road segment {rep.road!r} is not in town {town_code}; "
                "use a code or the exact name from roads.csv"
            )
        resolved.append((seg, rep))
    return resolved


def _record_blocked(
    session: Session,
    *,
    act: Activation,
    resolved: list[tuple[RoadSegment, RoadReport]],
    now: datetime,
) -> None:
    """An incident per reported road (blocked until a machine goes), and a timeline line each."""
    upsert(
        session,
        RoadIncident,
        [
            {
                "id": f"{act.id}:{seg.code}",
                "activation_id": act.id,
                "road_code": seg.code,
                "village_code": seg.village_code,
                "cause": rep.cause,
                "description": mask_text(rep.description),
                "status": RoadStatus.BLOCKED,
                "reported_at": now,
            }
            for seg, rep in resolved
        ],
    )
    for seg, rep in resolved:
        log_event(
            session,
            activation_id=act.id,
            key=f"road-blocked:{seg.code}",
            actor=seg.village_code,
            action="道路中断",
            detail=f"{seg.name}：{mask_text(rep.description) or rep.cause}",
            at=now,
            simulated=act.drill,
        )


def _busy_machines(session: Session, act: Activation) -> set[str | None]:
    """The town's machines on a road for a running response (drills apart, see holds_resources)."""
    return set(
        session.exec(
            select(RoadIncident.machine_code)
            .join(Activation, col(Activation.id) == col(RoadIncident.activation_id))
            .where(
                RoadIncident.status == RoadStatus.DISPATCHED,
                col(RoadIncident.machine_code).is_not(None),
                Activation.town_code == act.town_code,
                *holds_resources(act),
            )
        )
    )


def _dispatch(
    session: Session,
    *,
    act: Activation,
    waiting: list[RoadIncident],
    roads: dict[str, RoadSegment],
    machines: dict[str, Machine],
    preferred: Sequence[str],
    now: datetime,
) -> bool:
    """Send the nearest free machine to each blocked road; whether any was sent."""
    busy = _busy_machines(session, act)
    sent = dispatch(
        blocked=[
            BlockedRoad(i.id, roads[i.road_code].lat, roads[i.road_code].lon) for i in waiting
        ],
        machines=[
            FreeMachine(m.code, m.lat, m.lon, machine_preference(m.kind, preferred))
            for m in machines.values()
            if m.code not in busy
        ],
    )
    for inc in waiting:
        if inc.id not in sent:
            continue
        inc.machine_code = sent[inc.id]
        inc.status = RoadStatus.DISPATCHED
        inc.dispatched_at = now
        session.add(inc)
        m = machines[inc.machine_code]
        log_event(
            session,
            activation_id=act.id,
            key=f"road-dispatched:{inc.road_code}",
            actor="镇应急办",
            action="调派机械",
            detail=f"调派{m.name}（{m.kind}）赴{roads[inc.road_code].name}抢通",
            at=now,
            simulated=act.drill,
        )
    return any(inc.id in sent for inc in waiting)


def _reopen(
    session: Session,
    *,
    act: Activation,
    incidents: list[RoadIncident],
    cleared: set[str],
    roads: dict[str, RoadSegment],
    now: datetime,
) -> bool:
    """Reopen the roads with a machine on them that were reported cleared; whether any was."""
    reopened = False
    for inc in incidents:
        if inc.status == RoadStatus.DISPATCHED and inc.road_code in cleared:
            inc.status = RoadStatus.REOPENED
            inc.reopened_at = now
            session.add(inc)
            log_event(
                session,
                activation_id=act.id,
                key=f"road-reopened:{inc.road_code}",
                actor=inc.machine_code or "抢险队",
                action="道路抢通",
                detail=f"{roads[inc.road_code].name}已清除障碍，恢复通行",
                at=now,
                simulated=act.drill,
            )
            reopened = True
    return reopened
