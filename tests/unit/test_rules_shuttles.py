"""Vaccination shuttles: trips by vehicle and village, the site's hourly room, shortfalls said."""

from __future__ import annotations

import itertools
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from sanqing.rules.shuttles import (
    DAY_FULL,
    NO_WHEELCHAIR_PLACE,
    Rider,
    ShuttleRules,
    Vehicle,
    plan_shuttles,
)

OPENS = datetime(2026, 7, 20, 8, 0, tzinfo=UTC)
VAN = Vehicle("V1", seats=6, wheelchair_places=1, driver="司机甲")
CAR = Vehicle("V2", seats=4)


def riders(village: str, n: int, wheelchairs: int = 0) -> list[Rider]:
    return [Rider(f"{village}-{i}", village, wheelchair=i < wheelchairs) for i in range(n)]


def test_everyone_rides_one_village_a_trip_within_seats_site_and_vehicle_time() -> None:
    people = riders("石门村", 10, wheelchairs=1) + riders("鸡心村", 5)
    rules = ShuttleRules(opens=OPENS, hours_open=8, site_per_hour=8, round_trip_minutes=90)
    plan = plan_shuttles(people, [VAN, CAR], rules)
    assert plan.unassigned == {} and plan.assigned == len(people)
    assert sorted(r.code for t in plan.trips for r in t.riders) == sorted(r.code for r in people)
    for t in plan.trips:
        assert {r.village for r in t.riders} == {t.village}
        assert sum(not r.wheelchair for r in t.riders) <= t.vehicle.seats
        assert sum(r.wheelchair for r in t.riders) <= t.vehicle.wheelchair_places
        assert OPENS <= t.pickup < OPENS + timedelta(hours=8)
    per_hour = Counter(int((t.pickup - OPENS).total_seconds() // 3600) for t in plan.trips)
    arriving = Counter()
    for t in plan.trips:
        arriving[int((t.pickup - OPENS).total_seconds() // 3600)] += len(t.riders)
    assert per_hour and max(arriving.values()) <= 8
    for v in (VAN, CAR):  # a vehicle does one trip at a time
        times = sorted(t.pickup for t in plan.trips if t.vehicle == v)
        assert all(b - a >= timedelta(minutes=90) for a, b in itertools.pairwise(times))
    assert 0 < plan.max_seat_use <= 1


def test_more_wheelchairs_than_places_are_reported_not_seated() -> None:
    people = riders("石门村", 5, wheelchairs=2)
    plan = plan_shuttles(people, [CAR], ShuttleRules(opens=OPENS))
    assert plan.unassigned == {"石门村-0": NO_WHEELCHAIR_PLACE, "石门村-1": NO_WHEELCHAIR_PLACE}
    assert plan.assigned == 3 and all(not r.wheelchair for t in plan.trips for r in t.riders)


def test_what_does_not_fit_in_the_day_is_left_with_why() -> None:
    one_place = Vehicle("V3", seats=0, wheelchair_places=1)
    rules = ShuttleRules(opens=OPENS, hours_open=2, round_trip_minutes=60)
    plan = plan_shuttles(riders("鸡心村", 3, wheelchairs=3), [one_place], rules)
    assert [t.pickup for t in plan.trips] == [OPENS, OPENS + timedelta(hours=1)]
    assert plan.unassigned == {"鸡心村-2": DAY_FULL}


def test_the_site_room_per_hour_limits_a_trip() -> None:
    rules = ShuttleRules(opens=OPENS, site_per_hour=4, round_trip_minutes=30)
    plan = plan_shuttles(riders("石门村", 6), [Vehicle("V4", seats=6)], rules)
    assert [len(t.riders) for t in plan.trips] == [4, 2]
    assert plan.trips[1].pickup == OPENS + timedelta(hours=1)


def test_a_site_that_takes_nobody_is_refused() -> None:
    with pytest.raises(ValueError):
        ShuttleRules(opens=OPENS, site_per_hour=0)
