"""Step 3, 安置: every household ordered to move gets a shelter place, town-wide, in order."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select as select_rows
from sqlalchemy import update
from sqlmodel import Session, col, select

from sanqing.models import (
    Activation,
    Household,
    Relocation,
    RelocationStatus,
    Shelter,
)
from sanqing.plans import Plan
from sanqing.response.activation import holds_resources
from sanqing.response.locks import hold_town_open
from sanqing.response.timeline import clock, log_event
from sanqing.rules import relocation as rules
from sanqing.rules.shelters import Mover, Placement, ShelterRoom, assign_shelters

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
    rooms = _rooms(session, act)
    waiting = _waiting(session, activation_id)
    placements = assign_shelters(
        movers=[Mover(r.household_code, r.people, r.lat, r.lon) for r in waiting],
        shelters=rooms,
        max_distance_km=plan.defaults.max_shelter_distance_km,
    )
    changes, changed_villages = _changes(placements, waiting, now)
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
        _log_shortfall(session, act=act, short=short, now=now)
    return ShelterResult(
        placed_households=sum(1 for r in all_rel if r.shelter_code),
        shortfall_households=len(short),
        shortfall_people=sum(r.people for r in short),
        shelters_used=len({r.shelter_code for r in all_rel if r.shelter_code}),
        changed_villages=tuple(sorted(changed_villages)),
    )


def _rooms(session: Session, act: Activation) -> list[ShelterRoom]:
    """The town's shelters with the places running responses already hold in them."""
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
    return [
        ShelterRoom(s.code, s.lat, s.lon, s.capacity, occupied.get(s.code, 0)) for s in shelters
    ]


def _waiting(session: Session, activation_id: str) -> list[Any]:
    """The activation's households that move and have no place yet, most urgent first."""
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
    return waiting


def _changes(
    placements: list[Placement], waiting: list[Any], now: datetime
) -> tuple[list[dict[str, Any]], set[str]]:
    """The relocations whose place (or shortfall) changed, and the villages they belong to."""
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
    return changes, changed_villages


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
