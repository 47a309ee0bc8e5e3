"""Step 3, 安置: every household ordered to move gets a shelter place, town-wide, in order.

While the town runs an epidemic response (三情叠加), households with someone under
home health monitoring go only to isolation places and the others only to general
places, spaced to the epidemic plan's share; a monitored household placed among others
before its monitoring was known is moved. The town's 卫生院 is never a shelter.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select as select_rows
from sqlmodel import Session, col, select

from sanqing.db import core_rows, update_rows
from sanqing.epidemic.overlay import monitored_households, running_epidemic
from sanqing.epidemic.plan import load_epidemic_plan
from sanqing.models import (
    Activation,
    Household,
    Relocation,
    RelocationStatus,
    Shelter,
    Town,
)
from sanqing.plans import Plan
from sanqing.response.activation import holds_resources
from sanqing.response.locks import hold_town_open
from sanqing.response.timeline import clock, local_tz, log_event
from sanqing.rules import relocation as rules
from sanqing.rules.overlay import OverlayMover, OverlayShelter, place_with_epidemic
from sanqing.rules.shelters import (
    Mover,
    Placement,
    ShelterRoom,
    assign_shelters,
    is_medical_unit,
)

#: Relocations that hold a place in their shelter.
#: Statuses that hold a shelter place (投亲靠友 frees it; 带离 takes the household to one).
OCCUPYING = (
    RelocationStatus.ORDERED,
    RelocationStatus.MOVED,
    RelocationStatus.IN_SHELTER,
    RelocationStatus.REMOVED,
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
    # 三情叠加: people of monitored households in isolation places, and those without one
    isolation_people: int = 0
    isolation_shortfall_people: int = 0


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
    epidemic = running_epidemic(session, town_code=act.town_code, drill=act.drill)
    if epidemic is None:
        changes, changed_villages = _place(session, act, plan, now)
    else:
        changes, changed_villages = _place_apart(session, act, epidemic, plan, now)
    if changes:
        update_rows(session, Relocation, changes)
    return _result(session, act, now, changed_villages)


def _result(
    session: Session, act: Activation, now: datetime, changed_villages: set[str]
) -> ShelterResult:
    """What the activation's households have now; a shortfall goes on the timeline."""
    # The five columns the figures use: not the JSON and times of thousands of rows.
    all_rel = core_rows(
        session,
        select_rows(
            col(Relocation.shortfall),
            col(Relocation.status),
            col(Relocation.people),
            col(Relocation.shelter_code),
            col(Relocation.isolation),
        ).where(col(Relocation.activation_id) == act.id),
    )
    short = [r for r in all_rel if r.shortfall and r.status in OCCUPYING]
    if short:
        _log_shortfall(session, act=act, short=short, now=now)
    apart = [r for r in all_rel if r.isolation and r.status in OCCUPYING]
    return ShelterResult(
        placed_households=sum(1 for r in all_rel if r.shelter_code),
        shortfall_households=len(short),
        shortfall_people=sum(r.people for r in short),
        shelters_used=len({r.shelter_code for r in all_rel if r.shelter_code}),
        changed_villages=tuple(sorted(changed_villages)),
        isolation_people=sum(r.people for r in apart if r.shelter_code),
        isolation_shortfall_people=sum(r.people for r in apart if r.shortfall),
    )


def _place(
    session: Session, act: Activation, plan: Plan, now: datetime
) -> tuple[list[dict[str, Any]], set[str]]:
    """The households without a place, each in the nearest shelter with room."""
    waiting = _waiting(session, act.id)
    placements = assign_shelters(
        movers=[Mover(r.household_code, r.people, r.lat, r.lon) for r in waiting],
        shelters=_rooms(session, act),
        max_distance_km=plan.defaults.max_shelter_distance_km,
    )
    return _changes(placements, waiting, now)


def _place_apart(
    session: Session, act: Activation, epidemic: Activation, plan: Plan, now: datetime
) -> tuple[list[dict[str, Any]], set[str]]:
    """Under an epidemic: monitored households in isolation places, the others spaced.

    Waiting are the households without a place, and a monitored household placed
    among others (its monitoring became known after): it moves to an isolation place,
    or is a shortfall, never left mixed. What is placed stays placed on a re-run.
    """
    on = now.astimezone(local_tz()).date()
    monitored = monitored_households(session, town_code=act.town_code, drill=act.drill, on=on)
    waiting = [
        r
        for r in _waiting(session, act.id, placed_too=True)
        if r.shelter_code is None or (r.household_code in monitored and not r.isolation)
    ]
    factor = load_epidemic_plan().shelter_capacity_factor
    out = place_with_epidemic(
        [
            OverlayMover(
                Mover(r.household_code, r.people, r.lat, r.lon), r.household_code in monitored
            )
            for r in waiting
        ],
        _apart_rooms(session, act, moving={r.id for r in waiting}),
        capacity_factor=factor,
        max_distance_km=plan.defaults.max_shelter_distance_km,
    )
    _log_apart(session, act=act, epidemic=epidemic, factor=factor, now=now)
    isolation = {p.household_code for p in out.isolation}
    return _changes(
        out.general + out.isolation, waiting, now, isolation=isolation, monitored=monitored
    )


def _occupied(
    session: Session, act: Activation, shelters: list[Shelter], moving: Collection[str] = ()
) -> dict[tuple[str, bool], int]:
    """(shelter, isolation place?) → people running responses hold there (``moving`` aside)."""
    occupied: dict[tuple[str, bool], int] = defaultdict(int)
    for rid, code, people, isolation in session.exec(
        select(Relocation.id, Relocation.shelter_code, Relocation.people, Relocation.isolation)
        .join(Activation, col(Activation.id) == col(Relocation.activation_id))
        .where(
            col(Relocation.shelter_code).in_([s.code for s in shelters]),
            col(Relocation.status).in_(list(OCCUPYING)),
            *holds_resources(act),
        )
    ):
        if code is not None and rid not in moving:
            occupied[(code, bool(isolation))] += people
    return occupied


def _shelters(session: Session, act: Activation) -> list[Shelter]:
    """The town's shelters, never its 卫生院."""
    town = session.get(Town, act.town_code)
    medical_unit = town.medical_unit if town is not None else None
    return [
        s
        for s in session.exec(select(Shelter).where(Shelter.town_code == act.town_code))
        if not is_medical_unit(s.name, s.kind, medical_unit)
    ]


def _rooms(session: Session, act: Activation) -> list[ShelterRoom]:
    """The town's shelters with the places running responses already hold in them."""
    shelters = _shelters(session, act)
    occupied = _occupied(session, act, shelters)
    return [
        ShelterRoom(
            s.code, s.lat, s.lon, s.capacity, occupied[(s.code, False)] + occupied[(s.code, True)]
        )
        for s in shelters
    ]


def _apart_rooms(session: Session, act: Activation, *, moving: set[str]) -> list[OverlayShelter]:
    """The town's shelters with their general and isolation places already held."""
    shelters = _shelters(session, act)
    occupied = _occupied(session, act, shelters, moving)
    return [
        OverlayShelter(
            s.code,
            s.lat,
            s.lon,
            capacity=s.capacity,
            isolation_places=s.isolation_places,
            occupied=occupied[(s.code, False)],
            isolation_occupied=occupied[(s.code, True)],
        )
        for s in shelters
    ]


def _waiting(session: Session, activation_id: str, *, placed_too: bool = False) -> list[Any]:
    """The activation's households that move and have no place yet, most urgent first.

    With ``placed_too``, those with a place as well.
    """
    # Plain columns, not ORM objects: a county-sized town has thousands of relocations.
    waiting: list[Any] = core_rows(
        session,
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
            col(Relocation.isolation),
            col(Relocation.monitored),
            col(Household.lat),
            col(Household.lon),
        )
        .join(Household, col(Household.code) == col(Relocation.household_code))
        .where(
            col(Relocation.activation_id) == activation_id,
            *([] if placed_too else [col(Relocation.shelter_code).is_(None)]),
            col(Relocation.status).in_(list(OCCUPYING)),
        ),
    )
    # the same order as inside a village, across the town
    waiting.sort(
        key=lambda r: rules.urgency(r.zone, r.vulnerabilities, r.max_risk, r.household_code)
    )
    return waiting


def _changes(
    placements: list[Placement],
    waiting: list[Any],
    now: datetime,
    *,
    isolation: set[str] | None = None,
    monitored: dict[str, int] | None = None,
) -> tuple[list[dict[str, Any]], set[str]]:
    """The relocations whose place (or shortfall) changed, and the villages they belong to.

    Under an epidemic (``isolation`` given) also which kind of place, and how many of
    the household were under monitoring when placed.
    """
    by_hh = {r.household_code: r for r in waiting}
    changes = []
    changed_villages: set[str] = set()
    for p in placements:
        r = by_hh[p.household_code]
        new: dict[str, Any] = {"shelter_code": p.shelter_code, "shortfall": p.shelter_code is None}
        if isolation is not None:
            new["isolation"] = p.household_code in isolation
            new["monitored"] = max(r.monitored, (monitored or {}).get(p.household_code, 0))
        if all(getattr(r, k) == v for k, v in new.items()):
            continue
        changed_villages.add(r.village_code)
        changes.append({"id": r.id, **new, "updated_at": now})
    return changes, changed_villages


def _log_apart(
    session: Session, *, act: Activation, epidemic: Activation, factor: float, now: datetime
) -> None:
    """The timeline says once that this flood places people under the epidemic's rules."""
    log_event(
        session,
        activation_id=act.id,
        key=f"epidemic-overlay:{epidemic.id}",
        actor="镇应急办",
        action="疫情叠加安置",
        detail=(
            f"疫情防控{epidemic.level}级响应期间：居家健康监测人员只安置到隔离安置点，"
            f"不与他人混住；一般安置点按容量的{factor:.0%}使用"
        ),
        at=now,
        simulated=act.drill,
    )


def _log_shortfall(session: Session, *, act: Activation, short: list[Any], now: datetime) -> None:
    """The timeline says how many are without a place: the county is asked for help."""
    log_event(
        session,
        activation_id=act.id,
        key=f"shortfall:{len(short)}:{sum(r.people for r in short)}",
        actor="镇应急办",
        action="安置缺口",
        detail=f"{len(short)}户{sum(r.people for r in short)}人无安置点容量，需请求县级支援",
        at=now,
        simulated=act.drill,
    )
