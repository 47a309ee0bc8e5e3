"""Step 7 of the epidemic plan, 接送疫苗接种: rides to the vaccination site.

Residents who live alone in old age or cannot walk far, and want the vaccine, are
grouped into trips by vehicle (seats, wheelchair places), village and the site's
room per hour (``rules.shuttles``); those left without a ride are stored with why.
Who was vaccinated is confirmed afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlmodel import Session, col, select

from sanqing.db import upsert
from sanqing.epidemic.resources import TownResources
from sanqing.errors import SanqingError
from sanqing.models import Household, ShuttleSeat
from sanqing.response.timeline import local_tz
from sanqing.rules.shuttles import Rider, ShuttlePlan, ShuttleRules, plan_shuttles


@dataclass(frozen=True)
class ShuttleFigures:
    residents: int
    assigned: int
    trips: int
    max_seat_use: float
    unassigned: int
    vaccinated: int
    day: date | None = None  # the day of the rides (their first pickup's)


def riders_of(session: Session, village_codes: list[str], exclude: set[str]) -> list[Household]:
    """The elderly alone and the mobility-impaired of the villages, the elderly alone first."""
    rows = session.exec(
        select(Household)
        .where(col(Household.village_code).in_(village_codes))
        .where(col(Household.elderly_alone) | col(Household.mobility_impaired))
        .order_by(Household.village_code, Household.code)
    ).all()
    wanted = [h for h in rows if h.code not in exclude]
    return sorted(wanted, key=lambda h: (h.village_code, not h.elderly_alone, h.code))


def plan_rides(
    session: Session,
    *,
    activation_id: str,
    households: list[Household],
    res: TownResources,
    day: date,
) -> ShuttlePlan:
    """The day's trips for ``households``, stored per resident (a ride, or why none)."""
    site = res.vaccination_site
    if site is None:
        raise SanqingError("epidemic.yaml: no vaccination_site: rides cannot be planned")
    rules = ShuttleRules(
        opens=datetime.combine(day, site.opens, tzinfo=local_tz()),
        hours_open=site.hours_open,
        site_per_hour=site.per_hour,
        round_trip_minutes=site.round_trip_minutes,
    )
    riders = [Rider(h.code, h.village_code, wheelchair=h.mobility_impaired) for h in households]
    plan = plan_shuttles(riders, [v.shuttle() for v in res.vehicles], rules)
    trip_no: dict[str, int] = {}
    rows = []
    for trip in plan.trips:
        n = trip_no[trip.vehicle.code] = trip_no.get(trip.vehicle.code, 0) + 1
        for r in trip.riders:
            rows.append(
                _seat(activation_id, r, vehicle=trip.vehicle.code, trip=n, pickup=trip.pickup)
            )
    for r in riders:
        if r.code in plan.unassigned:
            rows.append(_seat(activation_id, r, why=plan.unassigned[r.code]))
    if rows:
        upsert(session, ShuttleSeat, rows)
    return plan


def _seat(
    activation_id: str,
    r: Rider,
    *,
    vehicle: str | None = None,
    trip: int | None = None,
    pickup: datetime | None = None,
    why: str = "",
) -> dict[str, object]:
    return {
        "id": f"{activation_id}:{r.code}",
        "activation_id": activation_id,
        "household_code": r.code,
        "village_code": r.village,
        "wheelchair": r.wheelchair,
        "vehicle_code": vehicle,
        "trip": trip,
        "pickup_at": pickup,
        "unassigned_reason": why,
    }


def confirm_vaccinated(session: Session, *, activation_id: str, not_vaccinated: set[str]) -> int:
    """Everyone who rode is confirmed vaccinated but those named; how many were."""
    n = 0
    for seat in session.exec(select(ShuttleSeat).where(ShuttleSeat.activation_id == activation_id)):
        if seat.vehicle_code is None or seat.vaccinated is not None:
            n += bool(seat.vaccinated)
            continue
        seat.vaccinated = seat.household_code not in not_vaccinated
        session.add(seat)
        n += seat.vaccinated
    return n


def figures(
    session: Session, activation_id: str, res: TownResources, *, until: datetime | None = None
) -> ShuttleFigures:
    """The rides' figures; seat use is seated riders over seats (wheelchair places apart);
    with ``until``, vaccinations only of rides picked up by then."""
    seats = session.exec(
        select(ShuttleSeat).where(ShuttleSeat.activation_id == activation_id)
    ).all()
    rode = [s for s in seats if s.vehicle_code]
    seated: dict[tuple[str, int], int] = {}
    for s in rode:
        key = (s.vehicle_code or "", s.trip or 0)
        seated[key] = seated.get(key, 0) + (not s.wheelchair)
    capacity = {v.code: v.seats for v in res.vehicles}
    pickups = [s.pickup_at for s in rode if s.pickup_at]
    use = [n / capacity[v] for (v, _), n in seated.items() if capacity.get(v)]
    return ShuttleFigures(
        residents=len(seats),
        assigned=len(rode),
        trips=len(seated),
        max_seat_use=round(max(use, default=0.0), 2),
        unassigned=len(seats) - len(rode),
        vaccinated=sum(
            1 for s in rode if s.vaccinated and (until is None or (s.pickup_at or until) <= until)
        ),
        day=min(pickups).astimezone(local_tz()).date() if pickups else None,
    )
