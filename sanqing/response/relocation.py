"""Step 3, 人员转移: who is ordered to move (vulnerable first) and with which cadre.

Where each household is placed is ``shelters``, once per town after every village
has decided.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, col, select

from sanqing.db import upsert
from sanqing.epidemic.overlay import on_point_duty
from sanqing.models import (
    Activation,
    Cadre,
    CadreRole,
    Grid,
    Inspection,
    Relocation,
    RelocationStatus,
)
from sanqing.plans import Plan, Urgent
from sanqing.response.locks import hold_open, lock_village
from sanqing.response.threats import movers
from sanqing.response.timeline import clock, local_tz, log_event, read_rows
from sanqing.rules import relocation as rules

#: The door visits of a move order take this long: none for a cadre at an epidemic point.
DOOR_VISITS = timedelta(hours=2)
#: Re-runs only refresh the derived fields; status, cadre and shelter stay as recorded.
_REFRESHED = [
    "priority",
    "zone",
    "hazard_codes",
    "reasons",
    "vulnerabilities",
    "max_risk",
    "urgent",
    "updated_at",
]


@dataclass(frozen=True)
class VillageRelocationResult:
    village_code: str
    households: int
    people: int
    vulnerable_households: int
    closed: bool = False  # the activation had ended: the step did nothing


def plan_relocations(
    *,
    session: Session,
    activation_id: str,
    village_code: str,
    plan: Plan,
    urgent_only: bool = False,
    now: datetime | None = None,
) -> VillageRelocationResult:
    """Decide who in the village moves, in what order and with which cadre; record it.

    With ``urgent_only``, only the households that move at once whatever the
    approval (三个紧急撤离: danger found, a point that cannot be judged, danger zones
    at night; the plan's ``approval.bypass``): the run orders them before it asks
    the commander; by day, before a danger is found, nobody (``may_move_at_once``,
    without reading the village). Nothing once the activation has ended (``closed``);
    the village is held while it decides: two runs never decide it at once.
    """
    if (act := hold_open(session, activation_id)) is None:
        return VillageRelocationResult(village_code, 0, 0, 0, closed=True)
    now = now or clock(session, activation_id)  # the row just read: no second query
    if urgent_only and not may_move_at_once(session, act=act, plan=plan, now=now):
        return VillageRelocationResult(village_code, 0, 0, 0)  # by day, nothing found yet
    lock_village(session, village_code)
    candidates = movers(session, act=act, plan=plan, village_codes=[village_code])
    urgent, found = _urgent_moves(candidates, act=act, plan=plan, now=now)
    if urgent_only:
        candidates = [c for c in candidates if c.household.code in urgent]
    existing = _recorded(session, activation_id=activation_id, village_code=village_code)
    new = [c for c in candidates if c.household.code not in existing]
    assignments = _assign_cadres(
        session,
        act=act,
        village_code=village_code,
        plan=plan,
        candidates=candidates,
        new=new,
        existing=existing,
        now=now,
    )
    rows = _relocation_rows(
        candidates,
        existing=existing,
        assignments=assignments,
        urgent=urgent,
        found=found,
        act=act,
        village_code=village_code,
        now=now,
    )
    upsert(session, Relocation, rows, update=_REFRESHED)
    if new:
        what = "紧急撤离（不等审批）" if urgent_only else "下达转移指令"
        _log_ordered(session, act, village_code, new, known=len(existing), what=what, now=now)
    return VillageRelocationResult(
        village_code=village_code,
        households=len(candidates),
        people=sum(c.household.members for c in candidates),
        vulnerable_households=sum(1 for c in candidates if c.vulnerabilities),
    )


def may_move_at_once(
    session: Session, *, act: Activation, plan: Plan, now: datetime | None = None
) -> bool:
    """Whether anyone can move at once now (三个紧急撤离), without reading who would.

    At night, when the plan moves danger zones at once, it is for ``plan_relocations``
    to say. By day only a danger found, or a point that cannot be judged, moves anyone
    before the approval: without such a finding in this activation nobody does, and
    the run need not decide every village for nothing.
    """
    bypass = plan.level(act.level).approval.bypass
    if Urgent.NIGHT in bypass and _is_night(plan, now or clock(session, act.id)):
        return True
    if not (statuses := rules.urgent_findings(bypass)):
        return False
    found = session.exec(
        select(Inspection.id)
        .where(Inspection.activation_id == act.id, col(Inspection.status).in_(statuses))
        .limit(1)
    ).first()
    return found is not None


def _urgent_moves(
    candidates: list[rules.Candidate], *, act: Activation, plan: Plan, now: datetime
) -> tuple[set[str], set[str]]:
    """The households that move at once now, and those a danger found makes urgent.

    A danger found later makes an order already given urgent; the night alone does not
    (a rerun at night must not rewrite how the day's approved orders were given).
    """
    night = _is_night(plan, now)
    bypass = plan.level(act.level).approval.bypass
    urgent = {
        c.household.code for c in candidates if rules.is_urgent(c, bypass=bypass, night=night)
    }
    found = {c.household.code for c in candidates if rules.is_urgent(c, bypass=bypass, night=False)}
    return urgent, found


def _is_night(plan: Plan, now: datetime) -> bool:
    """Whether ``now`` is in the plan's night, by the town's local time."""
    return plan.defaults.is_night(now.astimezone(local_tz()).time())


def _recorded(session: Session, *, activation_id: str, village_code: str) -> dict[str, Any]:
    """The village's relocations already recorded for the activation, by household."""
    return {
        r.household_code: r
        for r in read_rows(
            session,
            Relocation,
            Relocation.activation_id == activation_id,
            Relocation.village_code == village_code,
        )
    }


def _visiting_cadres(
    session: Session, *, act: Activation, village_code: str, anyone_moves: bool, now: datetime
) -> list[Cadre]:
    """The village's cadres; the town's leaders (and a timeline line) when it has none."""
    cadres = list(session.exec(select(Cadre).where(Cadre.village_code == village_code)))
    if cadres or not anyone_moves:
        return cadres
    # Nobody registered in the village: the town's leaders take the door visits.
    leaders = list(
        session.exec(
            select(Cadre).where(
                Cadre.town_code == act.town_code, Cadre.role == CadreRole.TOWN_LEADER
            )
        )
    )
    log_event(
        session,
        activation_id=act.id,
        key=f"no-village-cadre:{village_code}",
        actor="镇应急办",
        action="村无在册干部",
        detail=f"{village_code}无在册村干部，转移叫应由镇包片领导负责",
        at=now,
        simulated=act.drill,
    )
    return leaders


def _assign_cadres(
    session: Session,
    *,
    act: Activation,
    village_code: str,
    plan: Plan,
    candidates: list[rules.Candidate],
    new: list[rules.Candidate],
    existing: dict[str, Any],
    now: datetime,
) -> dict[str, rules.CadreAssignment]:
    """Which cadre takes each new order, counting the households they already visit."""
    cadres = _visiting_cadres(
        session, act=act, village_code=village_code, anyone_moves=bool(candidates), now=now
    )
    busy = on_point_duty(  # 三情叠加: one roster of people for both plans
        session, town_code=act.town_code, drill=act.drill, start=now, end=now + DOOR_VISITS
    )
    assigned = rules.assign_cadres(
        ordered=new,
        cadres=cadres,
        grid_responsible=_grid_responsible(session, village_code),
        max_per_cadre=plan.defaults.max_households_per_cadre,
        existing_load=_load(existing.values()),
        busy=busy,
    )
    if kept := sum(a.busy_kept for a in assigned.values()):  # nobody else free: said
        log_event(
            session,
            activation_id=act.id,
            key=f"point-duty-kept:{village_code}:{len(existing)}",
            actor=village_code,
            action="执勤人员兼任入户",
            detail=f"{kept}户的入户转移仍由疫情防控点执勤人员负责（本村无其他空闲干部）",
            at=now,
            simulated=act.drill,
        )
    return assigned


def _grid_responsible(session: Session, village_code: str) -> dict[str, str | None]:
    """Each grid of the village and the cadre responsible for it."""
    return {
        g.code: g.responsible_cadre_code
        for g in session.exec(select(Grid).where(Grid.village_code == village_code))
    }


def _load(existing: Iterable[Any]) -> dict[str, int]:
    """How many households each cadre already visits for this activation (recorded rows)."""
    load: dict[str, int] = defaultdict(int)
    for r in existing:
        if r.cadre_code:
            load[r.cadre_code] += 1
    return load


def _relocation_rows(
    candidates: list[rules.Candidate],
    *,
    existing: dict[str, Any],
    assignments: dict[str, rules.CadreAssignment],
    urgent: set[str],
    found: set[str],
    act: Activation,
    village_code: str,
    now: datetime,
) -> list[dict[str, Any]]:
    """The rows to write, in priority order: new orders, and recorded ones that changed."""
    rows = []
    for rank, cand in enumerate(candidates, start=1):
        code = cand.household.code
        row = _relocation_row(
            cand,
            rank=rank,
            old=existing.get(code),
            assignment=assignments.get(code),
            urgent=code in urgent,
            found=code in found,
            act=act,
            village_code=village_code,
            now=now,
        )
        if row is not None:
            rows.append(row)
    return rows


def _relocation_row(
    cand: rules.Candidate,
    *,
    rank: int,
    old: Any,
    assignment: rules.CadreAssignment | None,
    urgent: bool,
    found: bool,
    act: Activation,
    village_code: str,
    now: datetime,
) -> dict[str, Any] | None:
    """The relocation row to write for a candidate; None when its recorded row is current.

    ``old`` is the recorded row (a named tuple, see ``read_rows``) or None. An order
    already given keeps its time, status, cadre and place; it only turns urgent when
    a danger is found (``found``). A new order is ``urgent`` when it moves at once,
    without waiting for approval.
    """
    hh = cand.household
    base: dict[str, Any] = {
        "id": f"{act.id}:{hh.code}",
        "priority": rank,
        "zone": cand.zone.value,
        "hazard_codes": list(cand.hazard_codes),
        "reasons": list(cand.reasons),
        "vulnerabilities": list(cand.vulnerabilities),
        "max_risk": cand.max_risk.value if cand.max_risk else None,
    }
    who = {
        "activation_id": act.id,
        "village_code": village_code,
        "household_code": hh.code,
        "people": hh.members,
    }
    if old is not None:
        base["urgent"] = old.urgent or found
        if all(getattr(old, k) == v for k, v in base.items()):
            return None
        return base | who | {"ordered_at": old.ordered_at, "updated_at": now}
    assert assignment is not None  # every new order was given a cadre
    return (
        base
        | who
        | {
            "cadre_code": assignment.cadre_code,
            "original_cadre_code": assignment.original_cadre_code,
            "shelter_code": None,
            "shortfall": False,
            "status": RelocationStatus.ORDERED,
            "urgent": urgent,  # moved at once, without waiting for approval
            "ordered_at": now,
            "updated_at": now,
        }
    )


def _log_ordered(
    session: Session,
    act: Activation,
    village_code: str,
    new: list[rules.Candidate],
    *,
    known: int,
    what: str,
    now: datetime,
) -> None:
    """The timeline counts the village's new move orders (urgent ones say so)."""
    log_event(
        session,
        activation_id=act.id,
        key=f"relocation-ordered:{village_code}:{known + len(new)}",
        actor=village_code,
        action=what,
        detail=f"新增转移{len(new)}户{sum(c.household.members for c in new)}人",
        at=now,
        simulated=act.drill,
    )
