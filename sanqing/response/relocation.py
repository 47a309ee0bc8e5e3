"""Step 3, 人员转移: who is ordered to move (vulnerable first) and where each household is placed."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select as select_rows
from sqlalchemy import update
from sqlmodel import Session, col, select

from sanqing.db import upsert
from sanqing.models import (
    Activation,
    Cadre,
    CadreRole,
    Grid,
    HazardPoint,
    HazardThreat,
    Household,
    Inspection,
    InspectionStatus,
    Relocation,
    RelocationStatus,
    Shelter,
)
from sanqing.plans import Plan
from sanqing.response.activation import holds_resources
from sanqing.response.locks import hold_open, hold_town_open, lock_village
from sanqing.response.timeline import clock, local_tz, log_event, read_rows
from sanqing.rules import relocation as rules
from sanqing.rules.shelters import Mover, ShelterRoom, assign_shelters

#: Relocations that hold a place in their shelter.
#: Statuses that hold a shelter place (投亲靠友 frees it; 带离 takes the household to one).
OCCUPYING = (
    RelocationStatus.ORDERED,
    RelocationStatus.MOVED,
    RelocationStatus.IN_SHELTER,
    RelocationStatus.REMOVED,
)


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
    the commander. Nothing when the activation has ended (``closed``); the village is
    held while it decides, so two runs for the town never decide it at once.
    """
    now = now or clock(session, activation_id)
    held = hold_open(session, activation_id)
    if held is None:
        return VillageRelocationResult(village_code, 0, 0, 0, closed=True)
    act = held
    lock_village(session, village_code)
    scope = plan.level(act.level).relocate
    households = read_rows(
        session, Household, Household.village_code == village_code, order_by=Household.code
    )
    hazards = {
        h.code: h
        for h in session.exec(select(HazardPoint).where(HazardPoint.village_code == village_code))
    }
    threats = list(
        session.exec(
            select(HazardThreat)
            .join(Household, col(Household.code) == col(HazardThreat.household_code))
            .where(Household.village_code == village_code)
        )
    )
    # A household of this village may be threatened by a point registered in a neighbour.
    foreign = {t.hazard_code for t in threats} - set(hazards)
    if foreign:
        for h in session.exec(select(HazardPoint).where(col(HazardPoint.code).in_(foreign))):
            hazards[h.code] = h
    findings: dict[str, str] = {}
    for code, status in session.exec(
        select(Inspection.hazard_code, Inspection.status).where(
            Inspection.activation_id == activation_id,
            col(Inspection.hazard_code).in_(list(hazards)),
        )
    ):
        if status == InspectionStatus.DANGER or code not in findings:
            findings[code] = status
    candidates = rules.select_households(
        households=households, threats=threats, hazards=hazards, scope=scope, findings=findings
    )
    night = plan.defaults.is_night(now.astimezone(local_tz()).time())
    bypass = plan.level(act.level).approval.bypass
    urgent = {
        c.household.code for c in candidates if rules.is_urgent(c, bypass=bypass, night=night)
    }
    # a danger found later makes an order already given urgent; the night alone does not
    # (a rerun at night must not rewrite how the day's approved orders were given)
    found = {c.household.code for c in candidates if rules.is_urgent(c, bypass=bypass, night=False)}
    if urgent_only:
        candidates = [c for c in candidates if c.household.code in urgent]
    existing = {
        r.household_code: r
        for r in read_rows(
            session,
            Relocation,
            Relocation.activation_id == activation_id,
            Relocation.village_code == village_code,
        )
    }
    cadres = list(session.exec(select(Cadre).where(Cadre.village_code == village_code)))
    if not cadres and candidates:
        # Nobody registered in the village: the town's leaders take the door visits.
        cadres = list(
            session.exec(
                select(Cadre).where(
                    Cadre.town_code == act.town_code, Cadre.role == CadreRole.TOWN_LEADER
                )
            )
        )
        log_event(
            session,
            activation_id=activation_id,
            key=f"no-village-cadre:{village_code}",
            actor="镇应急办",
            action="村无在册干部",
            detail=f"{village_code}无在册村干部，转移叫应由镇包片领导负责",
            at=now,
            simulated=act.drill,
        )
    grids = {
        g.code: g.responsible_cadre_code
        for g in session.exec(select(Grid).where(Grid.village_code == village_code))
    }
    new = [c for c in candidates if c.household.code not in existing]
    load: dict[str, int] = defaultdict(int)
    for r in existing.values():
        if r.cadre_code:
            load[r.cadre_code] += 1
    assignments = rules.assign_cadres(
        ordered=new,
        cadres=cadres,
        grid_responsible=grids,
        max_per_cadre=plan.defaults.max_households_per_cadre,
        existing_load=load,
    )
    rows = []
    for rank, cand in enumerate(candidates, start=1):
        hh = cand.household
        base = {
            "id": f"{activation_id}:{hh.code}",
            "priority": rank,
            "zone": cand.zone.value,
            "hazard_codes": list(cand.hazard_codes),
            "reasons": list(cand.reasons),
            "vulnerabilities": list(cand.vulnerabilities),
            "max_risk": cand.max_risk.value if cand.max_risk else None,
        }
        if hh.code in existing:
            old = existing[hh.code]
            base["urgent"] = old.urgent or hh.code in found
            if all(getattr(old, k) == v for k, v in base.items()):
                continue
            rows.append(
                base
                | {
                    "activation_id": activation_id,
                    "village_code": village_code,
                    "household_code": hh.code,
                    "people": hh.members,
                    "ordered_at": old.ordered_at,
                    "updated_at": now,
                }
            )
            continue
        a = assignments[hh.code]
        rows.append(
            base
            | {
                "activation_id": activation_id,
                "village_code": village_code,
                "household_code": hh.code,
                "people": hh.members,
                "cadre_code": a.cadre_code,
                "original_cadre_code": a.original_cadre_code,
                "shelter_code": None,
                "shortfall": False,
                "status": RelocationStatus.ORDERED.value,
                "urgent": hh.code in urgent,  # moved at once, without waiting for approval
                "ordered_at": now,
                "updated_at": now,
            }
        )
    # Re-runs only refresh the derived fields; status, cadre and shelter stay as recorded.
    upsert(
        session,
        Relocation,
        rows,
        update=[
            "priority",
            "zone",
            "hazard_codes",
            "reasons",
            "vulnerabilities",
            "max_risk",
            "urgent",
            "updated_at",
        ],
    )
    if new:
        log_event(
            session,
            activation_id=activation_id,
            key=f"relocation-ordered:{village_code}:{len(existing) + len(new)}",
            actor=village_code,
            action="紧急撤离（不等审批）" if urgent_only else "下达转移指令",
            detail=f"新增转移{len(new)}户{sum(c.household.members for c in new)}人",
            at=now,
            simulated=act.drill,
        )
    return VillageRelocationResult(
        village_code=village_code,
        households=len(candidates),
        people=sum(c.household.members for c in candidates),
        vulnerable_households=sum(1 for c in candidates if c.vulnerabilities),
    )


@dataclass(frozen=True)
class ShelterResult:
    placed_households: int
    shortfall_households: int
    shortfall_people: int
    shelters_used: int
    closed: bool = False  # the activation had ended: the step did nothing
    # villages whose households got (or lost) a place in this call: their lists are due again
    changed_villages: tuple[str, ...] = field(default=(), compare=False)


def assign_town_shelters(
    *, session: Session, activation_id: str, plan: Plan, now: datetime | None = None
) -> ShelterResult:
    """Place every relocated household of the activation that has no shelter yet.

    Runs once per town after all villages have decided, in the town-wide
    priority order, so villages never race for the same places. Places already
    taken (by this or any other active response) count against capacity.
    """
    now = now or clock(session, activation_id)
    held = hold_town_open(session, activation_id)
    if held is None:  # ended: its households go home, nobody is placed any more
        return ShelterResult(0, 0, 0, 0, closed=True)
    act = held
    shelters = list(session.exec(select(Shelter).where(Shelter.town_code == act.town_code)))
    occupied: dict[str, int] = defaultdict(int)
    for code, people in session.exec(
        select(Relocation.shelter_code, Relocation.people)
        .join(Activation, col(Activation.id) == col(Relocation.activation_id))
        .where(
            col(Relocation.shelter_code).in_([s.code for s in shelters]),
            col(Relocation.status).in_(list(OCCUPYING)),
            *holds_resources(act),
        )
    ):
        if code is not None:
            occupied[code] += people
    rooms = [
        ShelterRoom(s.code, s.lat, s.lon, s.capacity, occupied.get(s.code, 0)) for s in shelters
    ]
    # Plain columns, not ORM objects: a county-sized town has thousands of relocations.
    waiting: list[Any] = list(
        session.execute(
            select_rows(
                col(Relocation.household_code),
                col(Relocation.people),
                col(Relocation.zone),
                col(Relocation.vulnerabilities),
                col(Relocation.village_code),
                col(Relocation.priority),
                col(Relocation.max_risk),
                col(Relocation.shelter_code),
                col(Relocation.shortfall),
                col(Relocation.id),
                col(Household.lat),
                col(Household.lon),
            )
            .join(Household, col(Household.code) == col(Relocation.household_code))
            .where(
                col(Relocation.activation_id) == activation_id,
                col(Relocation.shelter_code).is_(None),
                col(Relocation.status).in_(list(OCCUPYING)),
            )
        )
    )
    # the same order as inside a village, across the town
    waiting.sort(
        key=lambda r: rules.urgency(r.zone, r.vulnerabilities, r.max_risk, r.household_code)
    )
    placements = assign_shelters(
        movers=[Mover(r.household_code, r.people, r.lat, r.lon) for r in waiting],
        shelters=rooms,
        max_distance_km=plan.defaults.max_shelter_distance_km,
    )
    by_hh = {r.household_code: r for r in waiting}
    changes = []
    changed_villages: set[str] = set()
    for p in placements:
        r = by_hh[p.household_code]
        shortfall = p.shelter_code is None
        if r.shelter_code == p.shelter_code and r.shortfall == shortfall:
            continue
        changed_villages.add(r.village_code)
        changes.append(
            {"id": r.id, "shelter_code": p.shelter_code, "shortfall": shortfall, "updated_at": now}
        )
    if changes:
        session.execute(update(Relocation), changes)  # one UPDATE, many rows (by primary key)
    all_rel: list[Any] = list(
        session.exec(
            select(
                Relocation.shelter_code, Relocation.shortfall, Relocation.status, Relocation.people
            ).where(Relocation.activation_id == activation_id)
        )
    )
    short = [r for r in all_rel if r.shortfall and r.status in OCCUPYING]
    if short:
        log_event(
            session,
            activation_id=activation_id,
            key=f"shortfall:{len(short)}:{sum(r.people for r in short)}",
            actor="镇应急办",
            action="安置缺口",
            detail=f"{len(short)}户{sum(r.people for r in short)}人无安置点容量，需请求县级支援",
            at=now,
            simulated=act.drill,
        )
    return ShelterResult(
        placed_households=sum(1 for r in all_rel if r.shelter_code),
        shortfall_households=len(short),
        shortfall_people=sum(r.people for r in short),
        shelters_used=len({r.shelter_code for r in all_rel if r.shelter_code}),
        changed_villages=tuple(sorted(changed_villages)),
    )
