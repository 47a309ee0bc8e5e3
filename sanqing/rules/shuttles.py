"""接送疫苗接种: residents who cannot get to the vaccination site alone, grouped into trips.

A trip is one vehicle from one village to the site and back (``round_trip_minutes``).
Wheelchair users ride in wheelchair places, the others in seats; a vehicle does one
trip at a time, and the site takes at most ``site_per_hour`` people in each clock
hour from ``opens`` for ``hours_open`` hours. Villages are served in the order given,
each resident in the order given (the elderly alone first, say, as the caller sorts
them).

What cannot be done is reported, never hidden: a wheelchair user when no vehicle has
a wheelchair place, and whoever does not fit in the day (``unassigned`` with why).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

NO_WHEELCHAIR_PLACE = "no vehicle has a wheelchair place"
DAY_FULL = "no vehicle or site time left today"


@dataclass(frozen=True)
class Rider:
    code: str
    village: str
    wheelchair: bool = False


@dataclass(frozen=True)
class Vehicle:
    code: str
    seats: int
    wheelchair_places: int = 0
    driver: str = ""


@dataclass(frozen=True)
class ShuttleRules:
    opens: datetime
    hours_open: int = 8
    site_per_hour: int = 30
    round_trip_minutes: int = 60

    def __post_init__(self) -> None:
        if self.hours_open <= 0 or self.site_per_hour <= 0 or self.round_trip_minutes <= 0:
            raise ValueError("hours_open, site_per_hour and round_trip_minutes must be above 0")


@dataclass(frozen=True)
class Trip:
    vehicle: Vehicle
    village: str
    pickup: datetime
    riders: tuple[Rider, ...]

    @property
    def seat_use(self) -> float:
        """Share of the vehicle's seats taken (wheelchair places not counted)."""
        seated = sum(1 for r in self.riders if not r.wheelchair)
        return seated / self.vehicle.seats if self.vehicle.seats else 0.0


@dataclass
class ShuttlePlan:
    trips: list[Trip] = field(default_factory=list)
    unassigned: dict[str, str] = field(default_factory=dict)  # rider code → why

    @property
    def assigned(self) -> int:
        return sum(len(t.riders) for t in self.trips)

    @property
    def max_seat_use(self) -> float:
        return max((t.seat_use for t in self.trips), default=0.0)


def plan_shuttles(
    riders: Sequence[Rider], vehicles: Sequence[Vehicle], rules: ShuttleRules
) -> ShuttlePlan:
    """Group ``riders`` into trips; see the module for the rules."""
    plan = ShuttlePlan()
    has_places = any(v.wheelchair_places > 0 for v in vehicles)
    waiting: dict[str, list[Rider]] = defaultdict(list)
    for r in riders:
        if r.wheelchair and not has_places:
            plan.unassigned[r.code] = NO_WHEELCHAIR_PLACE
        else:
            waiting[r.village].append(r)
    free_at = {v.code: rules.opens for v in vehicles}
    at_site: dict[int, int] = defaultdict(int)  # hour index → people arriving
    for village, queue in waiting.items():
        while queue:
            trip = _next_trip(village, queue, vehicles, free_at, at_site, rules)
            if trip is None:
                plan.unassigned.update({r.code: DAY_FULL for r in queue})
                break
            plan.trips.append(trip)
            free_at[trip.vehicle.code] = trip.pickup + timedelta(minutes=rules.round_trip_minutes)
            at_site[_hour(trip.pickup, rules)] += len(trip.riders)
            taken = {r.code for r in trip.riders}
            queue[:] = [r for r in queue if r.code not in taken]
    return plan


def _next_trip(
    village: str,
    queue: list[Rider],
    vehicles: Sequence[Vehicle],
    free_at: dict[str, datetime],
    at_site: dict[int, int],
    rules: ShuttleRules,
) -> Trip | None:
    """The earliest trip that takes someone of ``queue``: a free vehicle, room at the site."""
    closes = rules.opens + timedelta(hours=rules.hours_open)
    for vehicle in sorted(vehicles, key=lambda v: (free_at[v.code], v.code)):
        t = free_at[vehicle.code]
        while t < closes:
            room = rules.site_per_hour - at_site[_hour(t, rules)]
            riders = _load(queue, vehicle, room)
            if riders:
                return Trip(vehicle, village, t, tuple(riders))
            t = rules.opens + timedelta(hours=_hour(t, rules) + 1)  # the next clock hour
    return None


def _load(queue: list[Rider], vehicle: Vehicle, room: int) -> list[Rider]:
    """Who of ``queue`` rides: wheelchair places and seats, in queue order, as room allows."""
    chairs, seats = vehicle.wheelchair_places, vehicle.seats
    riders: list[Rider] = []
    for r in queue:
        if len(riders) >= room:
            break
        if r.wheelchair and chairs > 0:
            chairs -= 1
            riders.append(r)
        elif not r.wheelchair and seats > 0:
            seats -= 1
            riders.append(r)
    return riders


def _hour(t: datetime, rules: ShuttleRules) -> int:
    return int((t - rules.opens).total_seconds() // 3600)
